import COpenSSL
import Foundation

/// A file-based mesh root CA built with OpenSSL's API (no `openssl` process):
/// `initialize` writes `ca.pem` + `ca-key.pem`, `issue` writes `NAME.pem` (leaf + CA) and `NAME-key.pem`.
///
/// The trust domain is recorded in the CA certificate's URI SAN `spiffe://<trust-domain>`, which is
/// where `issue` reads it from.
public enum MeshCertificateAuthority {
    public static let caCertificateFile = "ca.pem"
    public static let caKeyFile = "ca-key.pem"
    public static let defaultTrustDomain = "mesh.local"
    public static let defaultDays = 365

    /// Creates a self-signed EC P-256 root CA valid for 10 years in `directory` (created if needed).
    /// Refuses to overwrite an existing `ca.pem` or `ca-key.pem`.
    @discardableResult
    public static func initialize(directory: String, trustDomain: String = defaultTrustDomain) throws -> MeshCAFiles {
        do {
            try SPIFFEID.validateTrustDomain(trustDomain)
        } catch let error as SPIFFEIDError {
            throw CertificateAuthorityError.invalidArgument("invalid trust domain \"\(trustDomain)\": \(error.reason)")
        }
        let certPath = join(directory, caCertificateFile)
        let keyPath = join(directory, caKeyFile)
        for path in [certPath, keyPath] where FileManager.default.fileExists(atPath: path) {
            throw CertificateAuthorityError.alreadyExists(path: path)
        }
        try createDirectory(directory)

        let key = try PrivateKey.generateP256()
        let now = Date()
        let cert = try buildCertificate(
            subjectCN: "sidecar mesh CA \(trustDomain)", subjectKey: key,
            issuer: nil, issuerKey: key,
            notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(10 * 365.25 * 86400),
            extensions: [
                (NID_basic_constraints, "critical,CA:TRUE"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
                (NID_subject_alt_name, "URI:spiffe://\(trustDomain)"),
            ])
        try write(key.pem, to: keyPath, mode: 0o600)
        try write(cert.pem, to: certPath, mode: 0o644)
        return MeshCAFiles(
            certificatePath: certPath, privateKeyPath: keyPath, trustDomain: trustDomain,
            serialNumberHex: cert.serialNumberHex)
    }

    /// Issues a leaf certificate signed by the CA in `directory`: EC P-256, URI SAN = `spiffeID`
    /// (default `spiffe://<trust-domain>/ns/default/sa/NAME`), DNS SAN = NAME, usable as TLS server
    /// and client certificate, valid from 5 minutes ago for `days` days. Overwrites NAME's files.
    @discardableResult
    public static func issue(
        directory: String, name: String, spiffeID: String? = nil, days: Int = defaultDays
    ) throws -> IssuedCertificateFiles {
        guard days > 0 else { throw CertificateAuthorityError.invalidArgument("days must be positive, got \(days)") }
        let now = Date()
        return try issue(
            directory: directory, name: name, spiffeID: spiffeID,
            notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(TimeInterval(days) * 86400))
    }

    /// Issue with an explicit validity window (tests: expired or not-yet-valid certificates).
    @discardableResult
    /// `uriSANsOverride` replaces the URI SANs (tests: none, two, a foreign trust domain).
    static func issue(
        directory: String, name: String, spiffeID: String?, notBefore: Date, notAfter: Date,
        uriSANsOverride: [String]? = nil
    ) throws -> IssuedCertificateFiles {
        guard !name.isEmpty, name.utf8.allSatisfy({ isNameByte($0) }), name != ".", name != ".." else {
            throw CertificateAuthorityError.invalidArgument(
                "invalid name \"\(name)\": use letters, digits, '.', '-', '_'")
        }
        let (caCert, caKey, trustDomain) = try loadCA(directory: directory)
        let id: SPIFFEID
        do {
            id = try SPIFFEID(parsing: spiffeID ?? "spiffe://\(trustDomain)/ns/default/sa/\(name)")
        } catch let error as SPIFFEIDError {
            throw CertificateAuthorityError.invalidArgument(error.description)
        }
        guard id.trustDomain == trustDomain || uriSANsOverride != nil else {
            throw CertificateAuthorityError.invalidArgument(
                "SPIFFE ID \(id) is not in the CA's trust domain \(trustDomain)")
        }
        let key = try PrivateKey.generateP256()
        let cert = try buildCertificate(
            subjectCN: name, subjectKey: key, issuer: caCert, issuerKey: caKey,
            notBefore: notBefore, notAfter: notAfter,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, "serverAuth,clientAuth"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
                (NID_subject_alt_name, ((uriSANsOverride ?? [id.description]).map { "URI:\($0)" } + ["DNS:\(name)"]).joined(separator: ",")),
            ])
        let certPath = join(directory, "\(name).pem")
        let keyPath = join(directory, "\(name)-key.pem")
        try write(key.pem, to: keyPath, mode: 0o600)
        try write(cert.pem + caCert.pem, to: certPath, mode: 0o644)
        return IssuedCertificateFiles(
            certificatePath: certPath, privateKeyPath: keyPath,
            trustBundlePath: join(directory, caCertificateFile), spiffeID: id,
            serialNumberHex: cert.serialNumberHex, notBefore: cert.notBefore, notAfter: cert.notAfter)
    }

    /// Reads the CA of `directory` and the trust domain recorded in its URI SAN.
    static func loadCA(directory: String) throws -> (X509Certificate, PrivateKey, String) {
        let certPath = join(directory, caCertificateFile)
        let keyPath = join(directory, caKeyFile)
        let certBytes: [UInt8]
        let keyBytes: [UInt8]
        do {
            certBytes = try TLSIdentity.readFile(certPath, what: "CA certificate")
            keyBytes = try TLSIdentity.readFile(keyPath, what: "CA private key")
        } catch let error as TLSIdentityError {
            throw CertificateAuthorityError.caUnusable(
                path: error.path, detail: error.detail + " (run certs init first)")
        }
        guard let cert = X509Certificate.readAll(pem: certBytes).first else {
            throw CertificateAuthorityError.caUnusable(path: certPath, detail: "no PEM certificate found")
        }
        guard let key = PrivateKey.read(pem: keyBytes) else {
            throw CertificateAuthorityError.caUnusable(path: keyPath, detail: "no PEM private key found")
        }
        guard X509_check_private_key(cert.pointer, key.pointer) == 1 else {
            OpenSSLErrorQueue.clear()
            throw CertificateAuthorityError.caUnusable(
                path: keyPath, detail: "CA private key does not match \(certPath)")
        }
        guard let domain = cert.spiffeURIs.compactMap({ SPIFFEID($0) }).first(where: { $0.path.isEmpty }) else {
            throw CertificateAuthorityError.caUnusable(
                path: certPath, detail: "CA certificate has no spiffe://<trust-domain> URI SAN")
        }
        return (cert, key, domain.trustDomain)
    }

    /// Builds and signs one certificate. `issuer == nil` means self-signed by `issuerKey`.
    private static func buildCertificate(
        subjectCN: String, subjectKey: PrivateKey, issuer: X509Certificate?, issuerKey: PrivateKey,
        notBefore: Date, notAfter: Date, extensions: [(Int32, String)]
    ) throws -> X509Certificate {
        OpenSSLErrorQueue.clear()
        guard let raw = X509_new() else { throw CertificateAuthorityError.openSSL("X509_new", "out of memory") }
        let cert = X509Certificate(taking: raw)  // owns the new X509 from here on
        let x = cert.pointer
        func check(_ ok: Bool, _ call: String) throws {
            if !ok { throw CertificateAuthorityError.openSSL(call, OpenSSLErrorQueue.message(fallback: "failed")) }
        }
        try check(X509_set_version(x, 2) == 1, "X509_set_version")

        // Random positive 16-byte serial.
        var serialBytes = [UInt8](repeating: 0, count: 16)
        try check(RAND_bytes(&serialBytes, 16) == 1, "RAND_bytes")
        serialBytes[0] &= 0x7F
        if serialBytes[0] == 0 { serialBytes[0] = 0x01 }
        guard let bn = BN_bin2bn(serialBytes, 16, nil) else { throw CertificateAuthorityError.openSSL("BN_bin2bn", "failed") }
        defer { BN_free(bn) }
        try check(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != nil, "BN_to_ASN1_INTEGER")

        try check(ASN1_TIME_set(X509_getm_notBefore(x), time_t(notBefore.timeIntervalSince1970)) != nil, "notBefore")
        try check(ASN1_TIME_set(X509_getm_notAfter(x), time_t(notAfter.timeIntervalSince1970)) != nil, "notAfter")

        guard let subject = X509_get_subject_name(x) else { throw CertificateAuthorityError.openSSL("subject", "nil") }
        try check(
            X509_NAME_add_entry_by_txt(subject, "CN", sidecar_MBSTRING_ASC(), subjectCN, -1, -1, 0) == 1,
            "X509_NAME_add_entry_by_txt")
        if let issuer {
            try check(X509_set_issuer_name(x, X509_get_subject_name(issuer.pointer)) == 1, "X509_set_issuer_name")
        } else {
            try check(X509_set_issuer_name(x, subject) == 1, "X509_set_issuer_name")
        }
        try check(X509_set_pubkey(x, subjectKey.pointer) == 1, "X509_set_pubkey")

        var v3 = X509V3_CTX()  // zeroed: db == NULL, i.e. X509V3_set_ctx_nodb
        X509V3_set_ctx(&v3, issuer?.pointer ?? x, x, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
                throw CertificateAuthorityError.openSSL(
                    "extension \(String(cString: OBJ_nid2sn(nid))) = \(value)", OpenSSLErrorQueue.message(fallback: "failed"))
            }
            defer { X509_EXTENSION_free(ext) }  // X509_add_ext copies it
            try check(X509_add_ext(x, ext, -1) == 1, "X509_add_ext")
        }
        try check(X509_sign(x, issuerKey.pointer, EVP_sha256()) > 0, "X509_sign")
        return cert
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".")
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    private static func join(_ directory: String, _ file: String) -> String {
        directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }

    private static func createDirectory(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CertificateAuthorityError.writeFailed(path: directory, detail: "\(error.localizedDescription)")
        }
    }

    /// Writes atomically enough for our purpose: a private key is created with `mode` before any
    /// byte is written, so it is never world-readable.
    private static func write(_ text: String, to path: String, mode: Int) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            do { try fm.removeItem(atPath: path) } catch {
                throw CertificateAuthorityError.writeFailed(path: path, detail: "\(error.localizedDescription)")
            }
        }
        guard fm.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: mode]) else {
            throw CertificateAuthorityError.writeFailed(path: path, detail: "cannot create file")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CertificateAuthorityError.writeFailed(path: path, detail: "cannot open file")
        }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: Array(text.utf8))
        } catch {
            throw CertificateAuthorityError.writeFailed(path: path, detail: "\(error.localizedDescription)")
        }
    }
}

import COpenSSL
import Foundation

/// This workload's mesh identity: certificate chain (leaf first), private key and trust bundle,
/// loaded from the files named in `IdentityConfig` and checked before use.
///
/// Immutable once loaded; a reloader loads a new one (compare `contentHash` to skip unchanged files)
/// and builds new `TLSContext`s from it. The OpenSSL objects stay inside the TLS folder.
public final class TLSIdentity: Sendable {
    /// The SPIFFE ID in the leaf's URI SAN.
    public let spiffeID: SPIFFEID
    /// The leaf's serial number, uppercase hex.
    public let serialNumberHex: String
    public let notBefore: Date
    public let notAfter: Date
    /// SHA-256 (hex) over the three files' bytes; equal hashes mean the files did not change.
    public let contentHash: String
    public let certificatePath: String
    public let privateKeyPath: String
    public let trustBundlePath: String

    /// Leaf first, then intermediates (owned; see `X509Certificate`).
    let chain: [X509Certificate]
    let privateKey: PrivateKey
    /// CA certificates peers must chain to.
    let trustBundle: [X509Certificate]

    public var trustDomain: String { spiffeID.trustDomain }

    /// Loads and checks the identity described by `config`.
    public convenience init(config: IdentityConfig, now: Date = Date()) throws {
        try self.init(
            certificatePath: config.certificate, privateKeyPath: config.privateKey,
            trustBundlePath: config.trustBundle, now: now)
    }

    /// Loads and checks: every file present and readable, a certificate in the certificate file
    /// and in the bundle, a private key matching the leaf, the leaf currently valid, exactly one
    /// `spiffe://` URI SAN in the leaf, and the leaf chaining to the bundle.
    public init(certificatePath: String, privateKeyPath: String, trustBundlePath: String, now: Date = Date()) throws {
        let certBytes = try Self.readFile(certificatePath, what: "certificate")
        let keyBytes = try Self.readFile(privateKeyPath, what: "private key")
        let bundleBytes = try Self.readFile(trustBundlePath, what: "trust bundle")

        let chain = X509Certificate.readAll(pem: certBytes)
        guard let leaf = chain.first else {
            throw TLSIdentityError(
                kind: .noCertificate, path: certificatePath, detail: "no PEM certificate found in certificate file")
        }
        guard let key = PrivateKey.read(pem: keyBytes) else {
            throw TLSIdentityError(
                kind: .noPrivateKey, path: privateKeyPath, detail: "no PEM private key found in private key file")
        }
        let bundle = X509Certificate.readAll(pem: bundleBytes)
        guard !bundle.isEmpty else {
            throw TLSIdentityError(
                kind: .noCertificate, path: trustBundlePath, detail: "no PEM certificate found in trust bundle")
        }

        OpenSSLErrorQueue.clear()
        guard X509_check_private_key(leaf.pointer, key.pointer) == 1 else {
            OpenSSLErrorQueue.clear()
            throw TLSIdentityError(
                kind: .keyMismatch, path: privateKeyPath,
                detail: "private key does not match the certificate in \(certificatePath)")
        }

        let formatter = ISO8601DateFormatter()
        let notBefore = leaf.notBefore
        let notAfter = leaf.notAfter
        if notBefore > now {
            throw TLSIdentityError(
                kind: .notYetValid, path: certificatePath,
                detail: "certificate is not yet valid (notBefore \(formatter.string(from: notBefore)))")
        }
        if notAfter < now {
            throw TLSIdentityError(
                kind: .expired, path: certificatePath,
                detail: "certificate expired (notAfter \(formatter.string(from: notAfter)))")
        }

        let id: SPIFFEID
        do {
            id = try leaf.spiffeID()
        } catch let error as SPIFFEIDError {
            let detail = error.input.isEmpty ? error.reason : error.description
            throw TLSIdentityError(kind: .badSPIFFEID, path: certificatePath, detail: detail)
        }

        if let problem = Self.verify(chain: chain, against: bundle, at: now) {
            throw TLSIdentityError(
                kind: .untrusted, path: certificatePath,
                detail: "certificate does not chain to trust bundle \(trustBundlePath): \(problem)")
        }

        self.spiffeID = id
        self.serialNumberHex = leaf.serialNumberHex
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.contentHash = Self.sha256Hex(certBytes + [0] + keyBytes + [0] + bundleBytes)
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.trustBundlePath = trustBundlePath
        self.chain = chain
        self.privateKey = key
        self.trustBundle = bundle
    }

    /// The content hash the files of `config` have now (same value as `contentHash` of an identity
    /// loaded from them), without parsing them: cheap enough for a reload timer.
    public static func contentHash(of config: IdentityConfig) throws -> String {
        let cert = try readFile(config.certificate, what: "certificate")
        let key = try readFile(config.privateKey, what: "private key")
        let bundle = try readFile(config.trustBundle, what: "trust bundle")
        return sha256Hex(cert + [0] + key + [0] + bundle)
    }

    static func readFile(_ path: String, what: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TLSIdentityError(kind: .missingFile, path: path, detail: "\(what) file does not exist")
        }
        guard !isDirectory.boolValue else {
            throw TLSIdentityError(kind: .unreadableFile, path: path, detail: "\(what) path is a directory")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TLSIdentityError(kind: .unreadableFile, path: path, detail: "\(what) file is not readable")
        }
        return [UInt8](data)
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &digest, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1, "EVP_Digest(SHA-256) failed")
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(Int(length) * 2)
        for byte in digest.prefix(Int(length)) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Verifies the leaf (with the file's intermediates) against the bundle; nil when it chains.
    static func verify(chain: [X509Certificate], against bundle: [X509Certificate], at now: Date) -> String? {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        // Store, untrusted stack and verify context are all freed before returning.
        guard let store = X509_STORE_new() else { return "X509_STORE_new failed" }
        defer { X509_STORE_free(store) }
        for ca in bundle { X509_STORE_add_cert(store, ca.pointer) }
        guard let untrusted = OPENSSL_sk_new_null() else { return "out of memory" }
        defer { OPENSSL_sk_free(untrusted) }  // the stack borrows the certificates; frees no X509
        for cert in chain.dropFirst() { OPENSSL_sk_push(untrusted, UnsafeRawPointer(cert.pointer)) }
        guard let ctx = X509_STORE_CTX_new() else { return "X509_STORE_CTX_new failed" }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, store, chain[0].pointer, untrusted) == 1 else {
            return "X509_STORE_CTX_init failed"
        }
        X509_STORE_CTX_set_time(ctx, 0, time_t(now.timeIntervalSince1970))
        if X509_verify_cert(ctx) == 1 { return nil }
        return String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(ctx))))
    }
}

import COpenSSL
import Foundation

/// Owner of one `X509*`.
///
/// Lifetime: the pointer is obtained with one reference (from `PEM_read_bio_X509`, `X509_new` or an
/// explicit `X509_up_ref`) which this object owns and drops in `deinit` with `X509_free`. OpenSSL
/// calls that keep the certificate (`SSL_CTX_use_certificate`, `SSL_CTX_add1_chain_cert`,
/// `X509_STORE_add_cert`) take their own reference, so the `SSL_CTX` never depends on this object.
/// Never leaves the TLS folder.
final class X509Certificate: @unchecked Sendable {
    // @unchecked: the X509 is only read after construction; OpenSSL guards its lazily cached
    // extension data with an internal lock.
    let pointer: OpaquePointer

    /// Takes over one reference to `pointer`.
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Adds a reference to a certificate owned by someone else (e.g. `SSL_get0_peer_certificate`).
    init(borrowing pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit {
        X509_free(pointer)
    }

    /// Every certificate in a PEM blob, in file order. Empty when it holds none.
    static func readAll(pem: [UInt8]) -> [X509Certificate] {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }  // the final read fails with "no start line": expected.
        return pem.withUnsafeBytes { raw -> [X509Certificate] in
            // The memory BIO points into `pem` and is freed before this closure returns.
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return [] }
            defer { BIO_free(bio) }
            var result: [X509Certificate] = []
            while let cert = PEM_read_bio_X509(bio, nil, nil, nil) {
                result.append(X509Certificate(taking: cert))
            }
            return result
        }
    }

    /// The URI subject alternative names, in certificate order.
    var uriSANs: [String] {
        names(ofType: GEN_URI)
    }

    /// The DNS subject alternative names.
    var dnsSANs: [String] {
        names(ofType: GEN_DNS)
    }

    private func names(ofType wanted: Int32) -> [String] {
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return [] }
        // X509_get_ext_d2i returns a freshly allocated GENERAL_NAMES that we own until this scope ends.
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [String] = []
        for i in 0..<sidecar_sk_GENERAL_NAME_num(names) {
            guard let name = sidecar_sk_GENERAL_NAME_value(names, i), name.pointee.type == wanted else { continue }
            // Both URI and dNSName are IA5STRINGs in the same union slot.
            let string = wanted == GEN_URI ? name.pointee.d.uniformResourceIdentifier : name.pointee.d.dNSName
            guard let string, let data = ASN1_STRING_get0_data(string) else { continue }
            let length = Int(ASN1_STRING_length(string))
            result.append(String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self))
        }
        return result
    }

    /// The URI SANs that start with `spiffe://` (case-insensitively, so a malformed one is still counted).
    var spiffeURIs: [String] {
        uriSANs.filter { $0.lowercased().hasPrefix("spiffe://") }
    }

    /// The single SPIFFE ID in the URI SANs; throws a description of what is wrong otherwise.
    func spiffeID() throws -> SPIFFEID {
        let uris = spiffeURIs
        guard uris.count == 1 else {
            throw SPIFFEIDError(
                input: uris.joined(separator: ", "),
                reason: uris.isEmpty
                    ? "certificate has no spiffe:// URI SAN"
                    : "certificate has \(uris.count) spiffe:// URI SANs, exactly one is required")
        }
        return try SPIFFEID(parsing: uris[0])
    }

    /// The serial number as uppercase hex (no leading zeros beyond OpenSSL's `BN_bn2hex`).
    var serialNumberHex: String {
        guard let serial = X509_get0_serialNumber(pointer), let bn = ASN1_INTEGER_to_BN(serial, nil) else {
            return ""
        }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { sidecar_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    var notBefore: Date { Self.date(X509_get0_notBefore(pointer)) }
    var notAfter: Date { Self.date(X509_get0_notAfter(pointer)) }

    /// -1: the time is before now, 1: after now, 0: error (as `X509_cmp_current_time`).
    var notBeforeComparedToNow: Int32 { X509_cmp_current_time(X509_get0_notBefore(pointer)) }
    var notAfterComparedToNow: Int32 { X509_cmp_current_time(X509_get0_notAfter(pointer)) }

    var subjectOneLine: String {
        guard let name = X509_get_subject_name(pointer), let line = X509_NAME_oneline(name, nil, 0) else {
            return ""
        }
        defer { sidecar_OPENSSL_free(line) }
        return String(cString: line)
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        guard let time else { return Date(timeIntervalSince1970: 0) }
        var tm = tm()
        guard ASN1_TIME_to_tm(time, &tm) == 1 else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tm)))
    }

    /// PEM text of this certificate.
    var pem: String {
        MemoryBIO.collect { bio in PEM_write_bio_X509(bio, pointer) == 1 } ?? ""
    }
}

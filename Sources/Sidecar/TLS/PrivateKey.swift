import COpenSSL

/// Owner of one `EVP_PKEY*`.
///
/// Lifetime: holds the one reference returned by `PEM_read_bio_PrivateKey` / `EVP_PKEY_generate`
/// and frees it in `deinit` with `EVP_PKEY_free`. `SSL_CTX_use_PrivateKey` takes its own
/// reference. Never leaves the TLS folder.
final class PrivateKey: @unchecked Sendable {
    // @unchecked: immutable after construction; used read-only (signing, SSL_CTX setup).
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// The first private key in a PEM blob (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1), or nil.
    static func read(pem: [UInt8]) -> PrivateKey? {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return pem.withUnsafeBytes { raw -> PrivateKey? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { return nil }
            return PrivateKey(taking: key)
        }
    }

    /// A new EC P-256 key. (`EVP_EC_gen` is a variadic macro, so the long way.)
    static func generateP256() throws -> PrivateKey {
        OpenSSLErrorQueue.clear()
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw CertificateAuthorityError.openSSL("EVP_PKEY_CTX_new_from_name", OpenSSLErrorQueue.message(fallback: "failed"))
        }
        // The keygen context lives only for this call.
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1 else {
            throw CertificateAuthorityError.openSSL("EC keygen setup", OpenSSLErrorQueue.message(fallback: "failed"))
        }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_generate(ctx, &key) == 1, let key else {
            throw CertificateAuthorityError.openSSL("EVP_PKEY_generate", OpenSSLErrorQueue.message(fallback: "failed"))
        }
        return PrivateKey(taking: key)
    }

    /// PKCS#8 PEM, unencrypted.
    var pem: String {
        MemoryBIO.collect { bio in PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil) == 1 } ?? ""
    }
}

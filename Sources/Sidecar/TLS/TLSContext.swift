import COpenSSL

// C callbacks installed on every SSL_CTX. Non-capturing globals; the per-connection state is found
// through the SSL's ex_data (the owning TLSConnection).

/// Certificate verification: OpenSSL's chain check first, then, for the leaf, the SPIFFE rules
/// (exactly one spiffe:// URI SAN, our trust domain, the expected identities of a client).
private func tlsVerifyCallback(_ preverifyOK: Int32, _ storeContext: OpaquePointer?) -> Int32 {
    guard let storeContext,
        let sslRaw = X509_STORE_CTX_get_ex_data(storeContext, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let connection = TLSConnection.owner(of: OpaquePointer(sslRaw))
    else { return 0 }
    let depth = X509_STORE_CTX_get_error_depth(storeContext)
    if preverifyOK != 1 {
        let code = X509_STORE_CTX_get_error(storeContext)
        let reason = String(cString: X509_verify_cert_error_string(Int(code)))
        var subject = ""
        if let cert = X509_STORE_CTX_get_current_cert(storeContext) {
            subject = X509Certificate(borrowing: cert).subjectOneLine
        }
        connection.recordVerificationFailure(
            kind: .handshakeFailed,
            "peer certificate not trusted: \(reason) (depth \(depth)\(subject.isEmpty ? "" : ", \(subject)"))")
        return 0
    }
    guard depth == 0 else { return 1 }
    guard let leaf = X509_STORE_CTX_get_current_cert(storeContext) else { return 0 }
    switch connection.checkPeer(X509Certificate(borrowing: leaf)) {
    case .success:
        return 1
    case .failure(let error):
        connection.recordVerificationFailure(kind: error.kind, error.message)
        X509_STORE_CTX_set_error(storeContext, X509_V_ERR_APPLICATION_VERIFICATION)
        return 0
    }
}

/// Server ALPN selection: the first of the server's protocols that the client offered. The result
/// points into the client's list (`input`), which OpenSSL keeps alive through the handshake.
private func tlsALPNSelectCallback(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ input: UnsafePointer<UInt8>?, _ inputLength: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let ssl, let out, let outLength, let input, let connection = TLSConnection.owner(of: ssl) else {
        return SSL_TLSEXT_ERR_NOACK
    }
    let offered = UnsafeBufferPointer(start: input, count: Int(inputLength))
    for wanted in connection.context.alpnWire {
        var index = 0
        while index < offered.count {
            let length = Int(offered[index])
            let start = index + 1
            guard length > 0, start + length <= offered.count else { break }
            if length == wanted.count && offered[start..<(start + length)].elementsEqual(wanted) {
                out.pointee = input + start
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// Client new-session callback (TLS 1.3 tickets arrive after the handshake): cache the session
/// under the connection's key. Returning 1 keeps OpenSSL's reference (now owned by `TLSSession`).
private func tlsNewSessionCallback(_ ssl: OpaquePointer?, _ session: OpaquePointer?) -> Int32 {
    guard let ssl, let session, let connection = TLSConnection.owner(of: ssl),
        let key = connection.sessionCacheKey, let cache = connection.context.sessionCache,
        SSL_SESSION_is_resumable(session) == 1
    else { return 0 }
    cache.store(TLSSession(taking: session), for: key)
    return 1
}

/// An OpenSSL `SSL_CTX` configured for the mesh: our certificate and key, peers verified against
/// the trust bundle and the SPIFFE rules, TLS 1.3 minimum by default, ALPN, client-side session
/// resumption. Immutable once built and shared by all connections of a listener or cluster
/// (OpenSSL's `SSL_CTX` is thread-safe once configured).
///
/// Lifetime: owns one reference to the `SSL_CTX`, freed in `deinit`. Every `TLSConnection` holds
/// its context strongly, so the `SSL_CTX` outlives all its `SSL`s.
public final class TLSContext: @unchecked Sendable {
    public enum Role: String, Sendable { case server, client }

    public let role: Role
    public let identity: TLSIdentity
    public let alpnProtocols: [String]
    public let requireClientCertificate: Bool
    public let minimumVersion: TLSVersion
    /// Whether a client presents its certificate (false only in tests of refused handshakes).
    let presentsCertificate: Bool
    /// `alpnProtocols` as bytes, in preference order.
    let alpnWire: [[UInt8]]
    /// Client only.
    let sessionCache: TLSSessionCache?
    let pointer: OpaquePointer

    /// A server context. `requireClientCertificate`: mutual TLS (refuse clients without a
    /// certificate chaining to the bundle); otherwise a certificate is requested and checked if sent.
    public static func server(
        identity: TLSIdentity, requireClientCertificate: Bool = true, alpn: [String] = [],
        minimumVersion: TLSVersion = .tls13
    ) throws -> TLSContext {
        try TLSContext(
            role: .server, identity: identity, requireClientCertificate: requireClientCertificate, alpn: alpn,
            minimumVersion: minimumVersion, presentCertificate: true)
    }

    /// A client context presenting `identity` and verifying servers against its trust bundle.
    public static func client(
        identity: TLSIdentity, alpn: [String] = [], minimumVersion: TLSVersion = .tls13
    ) throws -> TLSContext {
        try TLSContext(
            role: .client, identity: identity, requireClientCertificate: false, alpn: alpn,
            minimumVersion: minimumVersion, presentCertificate: true)
    }

    /// A client that trusts `identity`'s bundle but presents no certificate (tests).
    static func clientWithoutCertificate(
        identity: TLSIdentity, alpn: [String] = [], minimumVersion: TLSVersion = .tls13
    ) throws -> TLSContext {
        try TLSContext(
            role: .client, identity: identity, requireClientCertificate: false, alpn: alpn,
            minimumVersion: minimumVersion, presentCertificate: false)
    }

    /// A client capped at `maximumVersion` (tests: a TLS 1.2-only peer).
    static func client(identity: TLSIdentity, minimumVersion: TLSVersion, maximumVersion: TLSVersion) throws -> TLSContext {
        try TLSContext(
            role: .client, identity: identity, requireClientCertificate: false, alpn: [],
            minimumVersion: minimumVersion, presentCertificate: true, maximumVersion: maximumVersion)
    }

    private init(
        role: Role, identity: TLSIdentity, requireClientCertificate: Bool, alpn: [String],
        minimumVersion: TLSVersion, presentCertificate: Bool, maximumVersion: TLSVersion? = nil
    ) throws {
        for name in alpn where name.utf8.isEmpty || name.utf8.count > 255 {
            throw TLSError(kind: .configuration, message: "ALPN protocol name \"\(name)\" must be 1...255 bytes")
        }
        OpenSSLErrorQueue.clear()
        guard let ctx = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError(kind: .configuration, message: "SSL_CTX_new failed", openSSLReasons: OpenSSLErrorQueue.drain())
        }
        self.pointer = ctx  // owned from here: deinit frees it even if the rest of init throws
        self.role = role
        self.identity = identity
        self.alpnProtocols = alpn
        self.requireClientCertificate = requireClientCertificate
        self.minimumVersion = minimumVersion
        self.presentsCertificate = presentCertificate
        self.alpnWire = alpn.map { Array($0.utf8) }
        self.sessionCache = role == .client ? TLSSessionCache() : nil
        try configure()
        if let maximumVersion {
            guard sidecar_SSL_CTX_set_max_proto_version(ctx, maximumVersion.openSSLValue) == 1 else {
                throw fail("cannot set maximum TLS version \(maximumVersion.rawValue)")
            }
        }
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    private func fail(_ what: String) -> TLSError {
        TLSError(kind: .configuration, message: what, openSSLReasons: OpenSSLErrorQueue.drain())
    }

    private func configure() throws {
        let ctx = pointer
        guard sidecar_SSL_CTX_set_min_proto_version(ctx, minimumVersion.openSSLValue) == 1 else {
            throw fail("cannot set minimum TLS version \(minimumVersion.rawValue)")
        }
        // No renegotiation (TLS 1.2; TLS 1.3 has none) and no compression (CRIME).
        _ = SSL_CTX_set_options(ctx, sidecar_SSL_OP_NO_RENEGOTIATION() | sidecar_SSL_OP_NO_COMPRESSION())

        if presentsCertificate {
            guard SSL_CTX_use_certificate(ctx, identity.chain[0].pointer) == 1 else {
                throw fail("cannot use certificate \(identity.certificatePath)")
            }
            for intermediate in identity.chain.dropFirst() {
                guard sidecar_SSL_CTX_add1_chain_cert(ctx, intermediate.pointer) == 1 else {
                    throw fail("cannot add chain certificate from \(identity.certificatePath)")
                }
            }
            guard SSL_CTX_use_PrivateKey(ctx, identity.privateKey.pointer) == 1, SSL_CTX_check_private_key(ctx) == 1
            else {
                throw fail("cannot use private key \(identity.privateKeyPath)")
            }
        }

        guard let store = SSL_CTX_get_cert_store(ctx) else { throw fail("SSL_CTX_get_cert_store failed") }
        for ca in identity.trustBundle {
            guard X509_STORE_add_cert(store, ca.pointer) == 1 else {
                throw fail("cannot add trust bundle certificate from \(identity.trustBundlePath)")
            }
        }

        switch role {
        case .server:
            let mode = requireClientCertificate ? (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) : SSL_VERIFY_PEER
            SSL_CTX_set_verify(ctx, mode, tlsVerifyCallback)
            // Required for resumption when client certificates are verified.
            let sessionContext: [UInt8] = Array("sidecar".utf8)
            guard SSL_CTX_set_session_id_context(ctx, sessionContext, UInt32(sessionContext.count)) == 1 else {
                throw fail("cannot set session id context")
            }
            if !alpnWire.isEmpty {
                SSL_CTX_set_alpn_select_cb(ctx, tlsALPNSelectCallback, nil)
            }
        case .client:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tlsVerifyCallback)
            _ = sidecar_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
            SSL_CTX_sess_set_new_cb(ctx, tlsNewSessionCallback)
            if !alpnWire.isEmpty {
                let wire = alpnWire.flatMap { [UInt8($0.count)] + $0 }
                // Returns 0 on success (unlike most OpenSSL calls); OpenSSL copies the list.
                guard SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count)) == 0 else {
                    throw fail("cannot set ALPN protocols \(alpnProtocols)")
                }
            }
        }
    }

    /// Number of cached client sessions (diagnostics, tests).
    public var cachedSessionCount: Int { sessionCache?.count ?? 0 }
}

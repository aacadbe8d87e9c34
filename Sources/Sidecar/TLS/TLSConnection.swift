import COpenSSL
import NIOCore

/// One TLS connection: owns the `SSL*` and the `ByteBufferBIO` it reads and writes through.
///
/// Lifetimes: the `SSL` is created in `init` and freed in `deinit` (`SSL_free` also drops the SSL's
/// reference to the BIO). The SSL's ex_data points at this object **unretained**; it is valid
/// because the SSL cannot outlive this object and callbacks only run inside `SSL_*` calls made
/// through it. `context` is held strongly so the `SSL_CTX` outlives the `SSL`.
/// Used on one event loop only (owned by an `OpenSSLHandler`).
final class TLSConnection {
    private static let exDataIndex: Int32 = {
        let index = sidecar_SSL_get_ex_new_index()
        precondition(index >= 0, "SSL_get_ex_new_index failed")
        return index
    }()

    let context: TLSContext
    let ssl: OpaquePointer
    let bio: ByteBufferBIO
    let expectedPeerIdentities: Set<String>
    private(set) var sessionCacheKey: String?
    /// Set by the verify callback when it refuses the peer: a better message than OpenSSL's.
    private(set) var verificationFailure: TLSError?

    init(context: TLSContext, expectedPeerIdentities: [String], allocator: ByteBufferAllocator) throws {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError(kind: .configuration, message: "SSL_new failed", openSSLReasons: OpenSSLErrorQueue.drain())
        }
        self.ssl = ssl
        self.context = context
        self.bio = ByteBufferBIO(allocator: allocator)
        self.expectedPeerIdentities = Set(expectedPeerIdentities)
        let bio = self.bio.retainedBIO()
        SSL_set_bio(ssl, bio, bio)  // takes the one extra reference
        SSL_set_ex_data(ssl, Self.exDataIndex, Unmanaged.passUnretained(self).toOpaque())
        // Idle connections give their record buffers back (a sidecar holds many idle connections).
        _ = sidecar_SSL_set_mode(ssl, Int(SSL_MODE_RELEASE_BUFFERS))
        if context.role == .server {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
        }
    }

    deinit {
        SSL_set_ex_data(ssl, Self.exDataIndex, nil)
        SSL_free(ssl)
    }

    static func owner(of ssl: OpaquePointer) -> TLSConnection? {
        guard let data = SSL_get_ex_data(ssl, exDataIndex) else { return nil }
        return Unmanaged<TLSConnection>.fromOpaque(data).takeUnretainedValue()
    }

    /// Client only, before the handshake: SNI and the cached session for `sessionCacheKey`.
    func prepareClient(serverName: String?, sessionCacheKey: String?) throws {
        if let serverName, !serverName.isEmpty, !Self.isIPAddress(serverName) {
            OpenSSLErrorQueue.clear()
            guard sidecar_SSL_set_tlsext_host_name(ssl, serverName) == 1 else {
                throw TLSError(
                    kind: .configuration, message: "invalid SNI server name \"\(serverName)\"",
                    openSSLReasons: OpenSSLErrorQueue.drain())
            }
        }
        self.sessionCacheKey = sessionCacheKey
        if let sessionCacheKey, let session = context.sessionCache?.take(for: sessionCacheKey) {
            // SSL_set_session takes its own reference; failure just means a full handshake.
            if SSL_set_session(ssl, session.pointer) != 1 { OpenSSLErrorQueue.clear() }
        }
    }

    private static func isIPAddress(_ name: String) -> Bool {
        (try? SocketAddress(ipAddress: name, port: 0)) != nil
    }

    func recordVerificationFailure(kind: TLSError.Kind, _ message: String) {
        if verificationFailure == nil {
            verificationFailure = TLSError(kind: kind, message: message)
        }
    }

    /// The mesh rules for a peer leaf that already chains to the bundle.
    func checkPeer(_ leaf: X509Certificate) -> Result<SPIFFEID, TLSError> {
        let id: SPIFFEID
        do {
            id = try leaf.spiffeID()
        } catch let error as SPIFFEIDError {
            let detail = error.input.isEmpty ? error.reason : error.description
            return .failure(TLSError(kind: .peerIdentityRejected, message: "peer certificate: \(detail)"))
        } catch {
            return .failure(TLSError(kind: .peerIdentityRejected, message: "peer certificate: \(error)"))
        }
        guard id.trustDomain == context.identity.trustDomain else {
            return .failure(
                TLSError(
                    kind: .peerIdentityRejected,
                    message: "peer identity \(id) is not in trust domain \(context.identity.trustDomain)"))
        }
        if context.role == .client, !expectedPeerIdentities.isEmpty, !expectedPeerIdentities.contains(id.description) {
            return .failure(
                TLSError(
                    kind: .peerIdentityRejected,
                    message: "server identity \(id) is not one of the expected identities "
                        + expectedPeerIdentities.sorted().joined(separator: ", ")))
        }
        return .success(id)
    }

    /// After a successful handshake (full or resumed): the peer identity, re-checked against the
    /// rules since a resumed session skips the verify callback.
    func peerIdentityAfterHandshake() -> Result<SPIFFEID?, TLSError> {
        guard let raw = SSL_get0_peer_certificate(ssl) else {
            if context.role == .client || context.requireClientCertificate {
                return .failure(TLSError(kind: .peerIdentityRejected, message: "peer presented no certificate"))
            }
            return .success(nil)
        }
        guard SSL_get_verify_result(ssl) == Int(X509_V_OK) else {
            let reason = String(cString: X509_verify_cert_error_string(SSL_get_verify_result(ssl)))
            return .failure(TLSError(kind: .handshakeFailed, message: "peer certificate not trusted: \(reason)"))
        }
        return checkPeer(X509Certificate(borrowing: raw)).map { Optional($0) }
    }

    func handshakeSummary(peerIdentity: SPIFFEID?) -> TLSHandshakeCompleted {
        var alpnData: UnsafePointer<UInt8>? = nil
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnData, &alpnLength)
        var alpn: String? = nil
        if let alpnData, alpnLength > 0 {
            alpn = String(decoding: UnsafeBufferPointer(start: alpnData, count: Int(alpnLength)), as: UTF8.self)
        }
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? ""
        var cipher = ""
        if let current = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(current) {
            cipher = String(cString: name)
        }
        return TLSHandshakeCompleted(
            peerIdentity: peerIdentity, negotiatedALPN: alpn, protocolVersion: version,
            resumed: SSL_session_reused(ssl) == 1, cipherSuite: cipher)
    }

    /// The error for a failed SSL call: the verify callback's message if it refused the peer, else
    /// the verification result, else OpenSSL's error queue.
    func error(kind: TLSError.Kind, operation: String, sslError: Int32) -> TLSError {
        let reasons = OpenSSLErrorQueue.drain()
        if let verificationFailure {
            return TLSError(kind: verificationFailure.kind, message: verificationFailure.message, openSSLReasons: reasons)
        }
        let verifyResult = SSL_get_verify_result(ssl)
        if kind == .handshakeFailed, verifyResult != Int(X509_V_OK) {
            let reason = String(cString: X509_verify_cert_error_string(verifyResult))
            return TLSError(kind: kind, message: "peer certificate not trusted: \(reason)", openSSLReasons: reasons)
        }
        let message: String
        if let first = reasons.first {
            message = first
        } else if sslError == SSL_ERROR_SYSCALL {
            message = "\(operation): unexpected end of stream"
        } else {
            message = "\(operation) failed (SSL_get_error \(sslError))"
        }
        return TLSError(kind: kind, message: message, openSSLReasons: reasons)
    }
}

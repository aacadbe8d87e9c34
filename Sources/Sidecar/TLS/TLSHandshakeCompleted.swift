/// User inbound event fired by `OpenSSLHandler` once the handshake succeeded and the peer's
/// identity was accepted: tells the layers above who the peer is and what was negotiated.
public struct TLSHandshakeCompleted: Sendable, Equatable {
    /// The peer's SPIFFE ID; nil only on a server that did not require a client certificate and got none.
    public let peerIdentity: SPIFFEID?
    /// The ALPN protocol both sides agreed on, nil when none was negotiated.
    public let negotiatedALPN: String?
    /// `TLSv1.3` or `TLSv1.2`.
    public let protocolVersion: String
    /// True when the session was resumed (no certificate exchange).
    public let resumed: Bool
    /// The negotiated cipher suite, e.g. `TLS_AES_128_GCM_SHA256`.
    public let cipherSuite: String

    public init(
        peerIdentity: SPIFFEID?, negotiatedALPN: String?, protocolVersion: String, resumed: Bool,
        cipherSuite: String = ""
    ) {
        self.peerIdentity = peerIdentity
        self.negotiatedALPN = negotiatedALPN
        self.protocolVersion = protocolVersion
        self.resumed = resumed
        self.cipherSuite = cipherSuite
    }
}

/// A TLS failure on a connection, fired by `OpenSSLHandler` through `fireErrorCaught` before it
/// closes the channel. `openSSLReasons` are OpenSSL's reason strings (`ERR_error_string_n`).
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The handshake failed (protocol error, certificate not trusted, no client certificate, ...).
        case handshakeFailed = "handshake failed"
        /// The certificate chained, but the peer's SPIFFE identity is not acceptable.
        case peerIdentityRejected = "peer identity rejected"
        /// The connection closed before the handshake completed.
        case closedDuringHandshake = "connection closed during handshake"
        /// An error after the handshake (bad record, alert from the peer, ...).
        case protocolError = "TLS protocol error"
        /// Setting up a context or connection failed.
        case configuration = "TLS configuration error"
    }

    public let kind: Kind
    public let message: String
    public let openSSLReasons: [String]

    public init(kind: Kind, message: String, openSSLReasons: [String] = []) {
        self.kind = kind
        self.message = message
        self.openSSLReasons = openSSLReasons
    }

    public var description: String {
        var text = "\(kind.rawValue): \(message)"
        let extra = openSSLReasons.filter { !message.contains($0) }
        if !extra.isEmpty { text += " [\(extra.joined(separator: "; "))]" }
        return text
    }
}

/// One generation of this workload's identity and the TLS contexts built from it. Immutable:
/// a rotation makes a new snapshot and hands it to every event loop; connections already open
/// keep the contexts they were made with.
final class IdentitySnapshot: Sendable {
    let identity: TLSIdentity
    /// Terminates inbound mTLS (client certificate required), ALPN `MeshALPN.server`.
    let server: TLSContext
    /// Terminates mTLS on the admin listener (`admin.tls: mutual`): HTTP/1.1 only.
    let admin: TLSContext
    /// Originates mTLS to `protocol: http1` clusters (ALPN `http/1.1`).
    let clientHTTP1: TLSContext
    /// Originates mTLS to `protocol: http2` clusters (ALPN `sidecar/h2`, `h2`).
    let clientHTTP2: TLSContext
    /// Originates mTLS to `protocol: auto` clusters (ALPN `sidecar/h2`, `h2`, `http/1.1`: the
    /// server picks).
    let clientNegotiated: TLSContext

    /// The workload's SPIFFE ID as text, made once: every inbound request with a verified caller
    /// reads it for `x-forwarded-client-cert` (formatting it each time was ~1.4k instructions).
    let spiffeID: String

    init(identity: TLSIdentity, serverALPN: [String]) throws {
        self.identity = identity
        self.spiffeID = identity.spiffeID.description
        self.server = try TLSContext.server(identity: identity, requireClientCertificate: true, alpn: serverALPN)
        self.admin = try TLSContext.server(identity: identity, requireClientCertificate: true, alpn: [MeshALPN.http1])
        self.clientHTTP1 = try TLSContext.client(identity: identity, alpn: [MeshALPN.http1])
        self.clientHTTP2 = try TLSContext.client(identity: identity, alpn: MeshALPN.clientHTTP2)
        self.clientNegotiated = try TLSContext.client(identity: identity, alpn: MeshALPN.clientNegotiated)
    }
}

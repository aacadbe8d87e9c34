/// The verified caller of one downstream connection (mutual TLS): its SPIFFE ID, whether the
/// listener's allow-list admits it, and its `x-forwarded-client-cert` value. All of it is fixed
/// for the connection's life, so it is decided once per connection, not per request (a `Set`
/// lookup and a dictionary lookup, each hashing the identity, were ~1.2k instructions a request).
final class DownstreamPeer {
    let identity: String
    /// Whether the listener's `allow` list admits this caller (an empty list admits any).
    let isAllowed: Bool
    /// Whether the caller is another sidecar: its connection picked `sidecar/h2` by ALPN (see
    /// `MeshALPN`). Only then is its `x-sidecar-orig-proto` believed.
    let isSidecar: Bool
    /// The formatted header for the workload identity it was made with (which can change when
    /// the workload's certificate rotates).
    private var forwardedClientCertCache: (own: String, value: String)?

    init(identity: String, listener: ListenerContext, isSidecar: Bool = false) {
        self.identity = identity
        self.isSidecar = isSidecar
        self.isAllowed = listener.allow.isEmpty || listener.allow.contains(identity)
    }

    /// `x-forwarded-client-cert` for a request from this caller to the workload `own`.
    func forwardedClientCert(own: String) -> String {
        if let cached = forwardedClientCertCache, cached.own == own { return cached.value }
        let value = "By=\(own);URI=\(identity)"
        forwardedClientCertCache = (own, value)
        return value
    }
}

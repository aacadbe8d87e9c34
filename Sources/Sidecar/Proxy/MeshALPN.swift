/// The ALPN protocol ids of the sidecar's TLS connections.
///
/// Besides `h2` and `http/1.1`, an outbound sidecar's HTTP/2-capable connections (clusters with
/// `protocol: http2` or `auto`) offer `sidecar/h2` first, and an inbound sidecar's listeners pick
/// it: HTTP/2 whose two ends are both sidecars, as linkerd2-proxy marks its own connections with
/// the ALPN id `transport.l5d.io/v1`. Any other server ignores an id it does not know and picks
/// `h2` or `http/1.1` as before. Knowing the other end is a sidecar is what the hop headers meant
/// for sidecars only rest on: an outbound sends `x-sidecar-orig-proto` only to an endpoint known
/// to be a sidecar (or not yet known), and an inbound believes it only on a connection that
/// picked `sidecar/h2`.
enum MeshALPN {
    static let sidecarHTTP2 = "sidecar/h2"
    static let http2 = "h2"
    static let http1 = "http/1.1"

    /// Whether a negotiated protocol is HTTP/2 (`h2`, or `sidecar/h2`).
    static func isHTTP2(_ negotiated: String?) -> Bool {
        negotiated == http2 || negotiated == sidecarHTTP2
    }

    /// What an inbound listener offers to pick from, in its order of preference.
    static let server = [sidecarHTTP2, http2, http1]
    /// What a `protocol: http2` cluster offers.
    static let clientHTTP2 = [sidecarHTTP2, http2]
    /// What a `protocol: auto` cluster's HTTP/2 connection offers (the server picks).
    static let clientNegotiated = [sidecarHTTP2, http2, http1]
}

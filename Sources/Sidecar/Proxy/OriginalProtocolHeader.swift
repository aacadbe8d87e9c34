/// `x-sidecar-orig-proto`: the HTTP version a request entered the mesh with, when a sidecar
/// carries it over an HTTP/2 hop (a `protocol: http2` or negotiated `auto` cluster) for an
/// HTTP/1.x caller, as linkerd2-proxy's `l5d-orig-proto`. The inbound sidecar reads it (from a
/// verified mTLS peer only) so that an `auto` local app is called in the caller's protocol rather
/// than the hop's, and removes it: every hop that upgrades adds its own, and no app sees it.
enum OriginalProtocolHeader {
    static let name = "x-sidecar-orig-proto"

    /// Whether a field name is this one (ASCII case-insensitive).
    static func isName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.equalsIgnoringASCIICase("x-sidecar-orig-proto")
    }

    /// Whether the value names HTTP/1.x (`HTTP/1.1`, `HTTP/1.0`; ASCII case-insensitive).
    static func saysHTTP1(_ value: UnsafeRawBufferPointer) -> Bool {
        value.count >= 6 && UnsafeRawBufferPointer(rebasing: value[..<6]).equalsIgnoringASCIICase("HTTP/1")
    }
}

import NIOHTTP1

/// A request head as the proxy core passes it from the downstream codec to an upstream one: the
/// method, target and version, and the fields, kept in the bytes the caller sent (the exchange's
/// edits only drop locations or append lines).
struct ProxyRequestHead: Equatable {
    var method: HTTPMethod
    var uri: String
    var version: HTTPVersion
    var fields: HTTPFieldBlock
    /// Sent over HTTP/2, the head says `x-sidecar-orig-proto: HTTP/1.1` (an outbound sidecar's
    /// HTTP/1.x caller; see `OriginalProtocolHeader`). Written by the HTTP/2 translation, so an
    /// attempt over HTTP/1.1 sends nothing and no attempt edits the fields for it.
    var marksHTTP1Caller = false

    init(version: HTTPVersion = .http1_1, method: HTTPMethod, uri: String, fields: HTTPFieldBlock = HTTPFieldBlock()) {
        self.version = version
        self.method = method
        self.uri = uri
        self.fields = fields
    }

    /// Whether the connection may carry another request after this one (RFC 9112 section 9.3):
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    var isKeepAlive: Bool {
        var close = false
        var keepAlive = false
        fields.forEachField { name, value in
            guard name.count == 10, name.equalsIgnoringASCIICase("connection") else { return }
            HTTP1RequestValidator.forEachListItem(value) { token in
                if token.equalsIgnoringASCIICase("close") { close = true }
                if token.equalsIgnoringASCIICase("keep-alive") { keepAlive = true }
            }
        }
        if close { return false }
        return version.major > 1 || version.minor >= 1 || keepAlive
    }
}

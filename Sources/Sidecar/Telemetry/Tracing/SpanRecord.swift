import NIOCore

/// One finished span as the data path records it: ids, times and a few strings and numbers that
/// already exist on the exchange (copying them only retains their storage). Converting to OTLP
/// (query stripping, address formatting, attribute lists) happens later, on the exporter's thread.
struct SpanRecord: Sendable {
    /// OpenTelemetry span kinds the sidecar makes.
    enum Kind: Sendable {
        /// An inbound listener's request (the sidecar serves the mesh caller).
        case server
        /// One upstream attempt of an outbound listener's request.
        case client
    }

    var kind: Kind
    var traceID: TraceID
    var spanID: UInt64
    /// 0 for a root span.
    var parentSpanID: UInt64
    var startUnixNanos: UInt64
    var endUnixNanos: UInt64 = 0
    var method: String
    /// The request target as received (`url.path` is taken from it without the query).
    var target: String
    /// 0 when no response status is known (e.g. a connect failure).
    var statusCode = 0
    /// CLIENT: the upstream endpoint (`server.address`, `server.port`, `network.peer.address`).
    var upstream: SocketAddressSpec?
    /// SERVER: the listener's bound address (`server.address`, `server.port`).
    var localAddress: SocketAddress?
    /// SERVER: the caller's address (`network.peer.address`).
    var peerAddress: SocketAddress?
    /// `error.type`: a sidecar flag, or the HTTP status for error responses.
    var errorType: String?
    var cluster: String?
    /// The caller's verified SPIFFE ID (`sidecar.peer.identity`).
    var peerIdentity: String?
    /// The `x-sidecar-error` flag when the sidecar answered or cut the response itself.
    var sidecarError: String?
    /// `http.request.resend_count` (attempt number − 1; only written when above 0).
    var resendCount = 0

    init(kind: Kind, traceID: TraceID, spanID: UInt64, parentSpanID: UInt64, startUnixNanos: UInt64, method: String, target: String) {
        self.kind = kind
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.startUnixNanos = startUnixNanos
        self.method = method
        self.target = target
    }

    /// Whether the span's status is ERROR: any `error.type`, and per the HTTP semantic
    /// conventions a 5xx on a SERVER span or a 4xx/5xx on a CLIENT span.
    var isError: Bool {
        if errorType != nil || sidecarError != nil { return true }
        switch kind {
        case .server: return statusCode >= 500
        case .client: return statusCode >= 400
        }
    }
}

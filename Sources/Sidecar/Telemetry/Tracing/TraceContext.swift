/// A trace context read from a request's headers: whom the sidecar's span continues.
///
/// `traceID` and `parentSpanID` are nil for a sampling decision without ids (B3 `b3: 0`,
/// `X-B3-Sampled` alone): a new trace starts with that decision.
struct TraceContext: Equatable, Sendable {
    /// Where the context came from.
    enum Source: Equatable, Sendable {
        case traceContext
        case b3Single
        case b3Multi
    }

    var traceID: TraceID?
    var parentSpanID: UInt64?
    /// The caller's sampling decision; nil when it left it to us (B3 "defer").
    var sampled: Bool?
    /// B3 debug (`d`, `X-B3-Flags: 1`): sampled, and said so downstream.
    var debug = false
    /// W3C `tracestate`, passed on unchanged (only with a valid `traceparent`).
    var traceState: String?
    var source: Source

    init(traceID: TraceID?, parentSpanID: UInt64?, sampled: Bool?, debug: Bool = false, traceState: String? = nil, source: Source) {
        self.traceID = traceID
        self.parentSpanID = parentSpanID
        self.sampled = sampled
        self.debug = debug
        self.traceState = traceState
        self.source = source
    }
}

/// One event loop's finished spans waiting for the exporter: a bounded array appended to without a
/// lock (only its loop touches it). When it is full a span is dropped and counted; the exporter
/// swaps the array out on the loop and adds the drop count to `sidecar_trace_spans_dropped_total`.
struct SpanBuffer {
    let capacity: Int
    private(set) var spans: [SpanRecord] = []
    /// Spans dropped because the buffer was full, since the last `take`.
    private(set) var dropped = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { spans.count }

    /// Appends `span`, or drops and counts it when the buffer is full. Returns whether it was kept.
    @discardableResult
    mutating func append(_ span: SpanRecord) -> Bool {
        guard spans.count < capacity else {
            dropped += 1
            return false
        }
        spans.append(span)
        return true
    }

    /// Hands over everything buffered and the drop count, leaving the buffer empty.
    mutating func take() -> (spans: [SpanRecord], dropped: Int) {
        let result = (spans, dropped)
        spans = []
        // A loop that was busy will be again: start the next round at the size this one reached.
        if result.0.count > 0 { spans.reserveCapacity(min(capacity, result.0.count)) }
        dropped = 0
        return result
    }
}

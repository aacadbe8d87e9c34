/// One event loop's tracing state: the settings, a fast id/sampling random source and the span
/// buffer. Touched only on its loop (no lock); the exporter reaches the buffer by running a task
/// on the loop.
final class LoopTracer {
    let settings: TracingSettings
    /// xoshiro256** seeded from the system: ids and sampling draws without a syscall or lock.
    private var random = RequestIDGenerator()
    private var buffer: SpanBuffer
    /// Asks the exporter to collect now (set by the exporter; called on this loop, at most once
    /// between two collections).
    var onBatchReady: (@Sendable () -> Void)?
    private var batchSignalled = false

    init(settings: TracingSettings) {
        self.settings = settings
        self.buffer = SpanBuffer(capacity: settings.loopBufferCapacity)
    }

    /// A random non-zero span id.
    func nextSpanID() -> UInt64 {
        var id = random.nextUInt64()
        while id == 0 { id = random.nextUInt64() }
        return id
    }

    /// A random valid trace id.
    func nextTraceID() -> TraceID {
        var id = TraceID(high: random.nextUInt64(), low: random.nextUInt64())
        while !id.isValid || id.high == 0 { id = TraceID(high: random.nextUInt64(), low: random.nextUInt64()) }
        return id
    }

    /// The sampling decision for a trace that starts here (`sampleRate`).
    func sampleNewTrace() -> Bool {
        let rate = settings.sampleRate
        if rate >= 1 { return true }
        if rate <= 0 { return false }
        return Double(random.nextUInt64() >> 11) * 0x1p-53 < rate
    }

    /// Buffers a finished span (dropped and counted when the buffer is full).
    func record(_ span: SpanRecord) {
        buffer.append(span)
        if !batchSignalled, buffer.count >= settings.batchSize, let onBatchReady {
            batchSignalled = true
            onBatchReady()
        }
    }

    /// Swaps the buffered spans out (called by the exporter, on this loop).
    func collect() -> (spans: [SpanRecord], dropped: Int) {
        batchSignalled = false
        return buffer.take()
    }

    var bufferedCount: Int { buffer.count }
}

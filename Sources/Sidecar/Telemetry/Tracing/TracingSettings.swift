/// The `tracing` section compiled for the data path: what to read and write, how to sample, and
/// whether spans are recorded at all (only when `otlp` is set: without it the sidecar still makes
/// span ids and propagates them, but exports nothing).
struct TracingSettings: Sendable {
    var formats: [PropagationFormat]
    var sampleRate: Double
    var recordsSpans: Bool
    /// Spans one event loop may hold before the exporter collects them.
    var loopBufferCapacity: Int
    /// A loop with this many spans asks the exporter to collect now.
    var batchSize: Int

    init(formats: [PropagationFormat], sampleRate: Double, recordsSpans: Bool, loopBufferCapacity: Int, batchSize: Int) {
        self.formats = formats
        self.sampleRate = sampleRate
        self.recordsSpans = recordsSpans
        self.loopBufferCapacity = loopBufferCapacity
        self.batchSize = batchSize
    }

    /// From the config; the per-loop buffer gets an equal share of `maxQueue` (at least one batch).
    init(_ config: TracingConfig, loopCount: Int) {
        let batch = max(1, config.otlp?.batchSize ?? 512)
        let queue = max(1, config.otlp?.maxQueue ?? 8192)
        self.init(
            formats: config.propagation,
            sampleRate: config.sampleRate,
            recordsSpans: config.otlp != nil,
            loopBufferCapacity: max(batch, queue / max(1, loopCount)),
            batchSize: batch
        )
    }
}

import XCTest
@testable import Sidecar

/// The per-loop span buffer: bounded, drops counted, swapped out whole.
final class TraceSpanBufferTests: XCTestCase {
    private func span(_ id: UInt64) -> SpanRecord {
        SpanRecord(kind: .client, traceID: TraceID(high: 1, low: id), spanID: id, parentSpanID: 0, startUnixNanos: 0, method: "GET", target: "/")
    }

    func testFullBufferDropsAndCounts() {
        var buffer = SpanBuffer(capacity: 3)
        XCTAssertEqual((1...5).map { buffer.append(span($0)) }, [true, true, true, false, false])
        XCTAssertEqual(buffer.count, 3)
        XCTAssertEqual(buffer.dropped, 2)
        let taken = buffer.take()
        XCTAssertEqual(taken.spans.map(\.spanID), [1, 2, 3], "the first spans are kept")
        XCTAssertEqual(taken.dropped, 2)
        XCTAssertEqual(buffer.count, 0)
        XCTAssertEqual(buffer.dropped, 0, "the count restarts after a take")
        XCTAssertTrue(buffer.append(span(6)))
        XCTAssertEqual(buffer.take().spans.map(\.spanID), [6])
    }

    func testTracerSignalsOneBatchBetweenCollections() {
        let tracer = LoopTracer(settings: TracingSettings(formats: [.tracecontext], sampleRate: 1, recordsSpans: true, loopBufferCapacity: 10, batchSize: 4))
        final class Counter: @unchecked Sendable { var value = 0 }
        let signals = Counter()
        tracer.onBatchReady = { signals.value += 1 }
        for id: UInt64 in 1...3 { tracer.record(span(id)) }
        XCTAssertEqual(signals.value, 0)
        for id: UInt64 in 4...12 { tracer.record(span(id)) }
        XCTAssertEqual(signals.value, 1, "one signal until the exporter collects")
        let collected = tracer.collect()
        XCTAssertEqual(collected.spans.count, 10)
        XCTAssertEqual(collected.dropped, 2)
        for id: UInt64 in 1...4 { tracer.record(span(id)) }
        XCTAssertEqual(signals.value, 2)
    }

    func testSpanIDsAreNonZeroAndDistinct() {
        let tracer = LoopTracer(settings: TracingSettings(formats: [.tracecontext], sampleRate: 1, recordsSpans: true, loopBufferCapacity: 1, batchSize: 1))
        let ids = (0..<1000).map { _ in tracer.nextSpanID() }
        XCTAssertFalse(ids.contains(0))
        XCTAssertEqual(Set(ids).count, 1000)
        XCTAssertTrue((0..<100).allSatisfy { _ in tracer.nextTraceID().isValid })
    }

    func testSettingsShareMaxQueueAmongLoops() {
        var config = TracingConfig()
        var otlp = OTLPConfig()
        otlp.batchSize = 100
        otlp.maxQueue = 1000
        config.otlp = otlp
        XCTAssertEqual(TracingSettings(config, loopCount: 4).loopBufferCapacity, 250)
        XCTAssertEqual(TracingSettings(config, loopCount: 20).loopBufferCapacity, 100, "at least one batch per loop")
        XCTAssertTrue(TracingSettings(config, loopCount: 1).recordsSpans)
        config.otlp = nil
        XCTAssertFalse(TracingSettings(config, loopCount: 1).recordsSpans, "no otlp: propagate only")
    }
}

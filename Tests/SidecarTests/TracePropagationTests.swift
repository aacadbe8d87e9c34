import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest
@testable import Sidecar

/// `ExchangeTrace` and `TraceHeaderWriter`: sampling rules, which span the next hop names, and
/// which headers are written or left alone.
final class TracePropagationTests: XCTestCase {
    private let traceHex = "4bf92f3577b34da6a3ce929d0e0e4736"
    private let parentHex = "00f067aa0ba902b7"
    private let endpoint = SocketAddressSpec(host: "127.0.0.1", port: 9001)

    private func tracer(rate: Double = 1, formats: [PropagationFormat] = [.tracecontext, .b3], records: Bool = true) -> LoopTracer {
        LoopTracer(settings: TracingSettings(formats: formats, sampleRate: rate, recordsSpans: records, loopBufferCapacity: 100, batchSize: 100))
    }

    private func trace(_ headers: [(String, String)], _ tracer: LoopTracer, _ direction: TrafficDirection = .outbound) -> ExchangeTrace {
        ExchangeTrace(headers: HTTPFieldBlock(headers), tracer: tracer, direction: direction, startTime: .now())
    }

    /// The headers attempt `attempt` carries.
    private func stamped(_ trace: inout ExchangeTrace, attempt: Int = 1, into base: [(String, String)] = []) -> HTTPHeaders {
        trace.attemptStarted(attempt: attempt, method: "GET", target: "/x", endpoint: endpoint, cluster: "payments")
        var fields = HTTPFieldBlock(base)
        trace.stamp(&fields)
        return fields.headers
    }

    private func parts(_ traceparent: String?) -> [Substring] {
        traceparent?.split(separator: "-") ?? []
    }

    // MARK: Sampling

    func testNewTracesFollowSampleRate() {
        let always = trace([], tracer(rate: 1))
        XCTAssertTrue(always.sampled)
        XCTAssertTrue(always.traceID.isValid)
        XCTAssertEqual(always.incomingParent, 0)
        XCTAssertFalse(trace([], tracer(rate: 0)).sampled)

        let half = tracer(rate: 0.5)
        let sampled = (0..<2000).filter { _ in trace([], half).sampled }.count
        XCTAssertTrue((800...1200).contains(sampled), "\(sampled) of 2000 at rate 0.5")
        // Ids differ from trace to trace.
        XCTAssertNotEqual(trace([], half).traceID, trace([], half).traceID)
    }

    func testIncomingSampledFlagIsHonoured() {
        let yes = trace([("traceparent", "00-\(traceHex)-\(parentHex)-01")], tracer(rate: 0))
        XCTAssertTrue(yes.sampled)
        XCTAssertEqual(yes.traceID.hex, traceHex)
        XCTAssertEqual(yes.incomingParent, 0x00f0_67aa_0ba9_02b7)
        XCTAssertFalse(trace([("traceparent", "00-\(traceHex)-\(parentHex)-00")], tracer(rate: 1)).sampled)
        XCTAssertTrue(trace([("b3", "\(traceHex)-\(parentHex)-d")], tracer(rate: 0)).sampled)
        // B3 without a decision: the same trace continues, the sampler decides.
        let deferred = trace([("b3", "\(traceHex)-\(parentHex)")], tracer(rate: 0))
        XCTAssertEqual(deferred.traceID.hex, traceHex)
        XCTAssertFalse(deferred.sampled)
    }

    func testB3DenyStartsAnUnsampledTrace() {
        var denied = trace([("b3", "0")], tracer(rate: 1))
        XCTAssertFalse(denied.sampled)
        XCTAssertEqual(denied.incomingParent, 0)
        let headers = stamped(&denied)
        XCTAssertEqual(parts(headers.first(name: "traceparent")).last, "00")
        XCTAssertTrue(headers.first(name: "b3")!.hasSuffix("-0"))
    }

    func testInvalidHeadersStartANewTrace() {
        let fresh = trace([("traceparent", "00-\(traceHex)-0000000000000000-01"), ("tracestate", "a=1")], tracer(rate: 1))
        XCTAssertNotEqual(fresh.traceID.hex, traceHex)
        XCTAssertEqual(fresh.incomingParent, 0)
        XCTAssertTrue(fresh.sampled)
        XCTAssertNil(fresh.traceState, "tracestate is dropped with an invalid traceparent")
    }

    // MARK: Which span the next hop names

    func testOutboundAttemptsNameTheirOwnClientSpan() {
        let tracer = tracer()
        var exchange = trace([("traceparent", "00-\(traceHex)-\(parentHex)-01"), ("tracestate", "a=1")], tracer)
        let first = stamped(&exchange, attempt: 1)
        exchange.attemptResponse(status: 503)
        exchange.attemptEnded()
        let second = stamped(&exchange, attempt: 2)
        exchange.attemptResponse(status: 200)
        exchange.attemptEnded()

        let p1 = parts(first.first(name: "traceparent")), p2 = parts(second.first(name: "traceparent"))
        XCTAssertEqual(p1[1], Substring(traceHex))
        XCTAssertEqual(p2[1], Substring(traceHex))
        XCTAssertNotEqual(p1[2], p2[2])
        XCTAssertEqual(first.first(name: "tracestate"), "a=1")
        XCTAssertEqual(first.first(name: "b3"), "\(traceHex)-\(p1[2])-1")

        let logged = exchange.finish(record: record(status: 200), downstream: StubDownstream())
        let spans = tracer.collect().spans
        XCTAssertEqual(spans.count, 2)
        XCTAssertEqual(spans.map { TraceHex.string($0.spanID) }, [String(p1[2]), String(p2[2])])
        XCTAssertEqual(spans.map(\.parentSpanID), [0x00f0_67aa_0ba9_02b7, 0x00f0_67aa_0ba9_02b7])
        XCTAssertEqual(spans.map(\.resendCount), [0, 1])
        XCTAssertEqual(spans.map(\.statusCode), [503, 200])
        XCTAssertEqual(spans[0].errorType, "503")
        XCTAssertNil(spans[1].errorType)
        XCTAssertTrue(spans.allSatisfy { $0.kind == .client && $0.cluster == "payments" && $0.upstream == endpoint })
        XCTAssertLessThanOrEqual(spans[0].endUnixNanos, spans[1].startUnixNanos)
        XCTAssertEqual(logged, spans[1].spanID, "the access log names the last CLIENT span")
    }

    func testInboundAppSeesTheServerSpan() {
        let tracer = tracer()
        var exchange = trace([("traceparent", "00-\(traceHex)-\(parentHex)-01")], tracer, .inbound)
        let headers = stamped(&exchange)
        XCTAssertEqual(String(parts(headers.first(name: "traceparent"))[2]), TraceHex.string(exchange.serverSpanID))
        var rec = record(status: 502)
        rec.flags = ["upstream_reset"]
        rec.peerIdentity = "spiffe://mesh.local/ns/default/sa/orders"
        let logged = exchange.finish(record: rec, downstream: StubDownstream())
        let spans = tracer.collect().spans
        XCTAssertEqual(spans.count, 1, "no CLIENT span inbound")
        XCTAssertEqual(spans[0].kind, .server)
        XCTAssertEqual(spans[0].spanID, exchange.serverSpanID)
        XCTAssertEqual(spans[0].parentSpanID, 0x00f0_67aa_0ba9_02b7)
        XCTAssertEqual(spans[0].sidecarError, "upstream_reset")
        XCTAssertEqual(spans[0].errorType, "upstream_reset")
        XCTAssertEqual(spans[0].peerIdentity, "spiffe://mesh.local/ns/default/sa/orders")
        XCTAssertTrue(spans[0].isError)
        XCTAssertEqual(logged, exchange.serverSpanID)
    }

    func testLocalAnswerWithoutAttemptStillGetsAClientSpan() {
        let tracer = tracer()
        var exchange = trace([], tracer)
        var rec = record(status: 404)
        rec.flags = ["no_route"]
        let logged = exchange.finish(record: rec, downstream: StubDownstream())
        let spans = tracer.collect().spans
        XCTAssertEqual(spans.count, 1)
        XCTAssertEqual(spans[0].sidecarError, "no_route")
        XCTAssertEqual(spans[0].statusCode, 404)
        XCTAssertEqual(logged, spans[0].spanID)
    }

    func testUnsampledOrExportlessTracesRecordNothing() {
        let unsampled = tracer(rate: 0)
        var exchange = trace([], unsampled)
        _ = stamped(&exchange)
        XCTAssertNotEqual(exchange.finish(record: record(status: 200), downstream: StubDownstream()), 0, "ids exist even when not sampled")
        XCTAssertEqual(unsampled.collect().spans.count, 0)

        let propagateOnly = tracer(records: false)
        var other = trace([], propagateOnly)
        _ = stamped(&other)
        _ = other.finish(record: record(status: 200), downstream: StubDownstream())
        XCTAssertEqual(propagateOnly.collect().spans.count, 0)
    }

    // MARK: Header writing

    func testOnlyConfiguredFormatsAreWrittenOthersLeftAlone() {
        var onlyW3C = trace([("b3", "\(traceHex)-\(parentHex)-1")], tracer(formats: [.tracecontext]))
        let w3c = stamped(&onlyW3C, into: [("b3", "\(traceHex)-\(parentHex)-1")])
        XCTAssertEqual(w3c.first(name: "b3"), "\(traceHex)-\(parentHex)-1", "b3 is not ours to write: untouched")
        XCTAssertNotEqual(parts(w3c.first(name: "traceparent"))[1], Substring(traceHex), "b3 is not read either: a new trace")

        var onlyB3 = trace([], tracer(formats: [.b3]))
        let b3 = stamped(&onlyB3, into: [("traceparent", "00-\(traceHex)-\(parentHex)-01")])
        XCTAssertEqual(b3.first(name: "traceparent"), "00-\(traceHex)-\(parentHex)-01")
        XCTAssertNotNil(b3.first(name: "b3"))
        XCTAssertNil(b3.first(name: "x-b3-traceid"), "multi headers only when the request had them")
    }

    func testB3MultiHeadersAreRewrittenWhenPresent() {
        let incoming = [("X-B3-TraceId", "a3ce929d0e0e4736"), ("X-B3-SpanId", parentHex), ("X-B3-ParentSpanId", "05e3ac9a4f6e3b90"), ("X-B3-Sampled", "1")]
        var exchange = trace(incoming, tracer())
        let headers = stamped(&exchange, into: incoming)
        let span = String(parts(headers.first(name: "traceparent"))[2])
        XCTAssertEqual(headers.first(name: "traceparent"), "00-0000000000000000a3ce929d0e0e4736-\(span)-01")
        XCTAssertEqual(headers["x-b3-traceid"], ["a3ce929d0e0e4736"], "a 64-bit id keeps its form")
        XCTAssertEqual(headers["x-b3-spanid"], [span])
        XCTAssertEqual(headers["x-b3-parentspanid"], [parentHex])
        XCTAssertEqual(headers["x-b3-sampled"], ["1"])
        XCTAssertEqual(headers.first(name: "b3"), "a3ce929d0e0e4736-\(span)-1")
    }

    func testWriterFormats() {
        let outgoing = TraceHeaderWriter.Outgoing(
            traceID: TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736), spanID: 0x00f0_67aa_0ba9_02b7,
            parentSpanID: 0, sampled: true, debug: false, traceState: nil
        )
        XCTAssertEqual(TraceHeaderWriter.traceParent(outgoing), "00-\(traceHex)-\(parentHex)-01")
        XCTAssertEqual(TraceHeaderWriter.b3Single(outgoing), "\(traceHex)-\(parentHex)-1")
        var debug = outgoing
        debug.debug = true
        debug.sampled = true
        XCTAssertEqual(TraceHeaderWriter.b3Single(debug), "\(traceHex)-\(parentHex)-d")
        var headers = HTTPFieldBlock([("tracestate", "stale=1"), ("X-B3-Sampled", "0")])
        TraceHeaderWriter.write(debug, formats: [.tracecontext, .b3], rewriteB3Multi: true, into: &headers)
        XCTAssertNil(headers.first(name: "tracestate"), "no tracestate of ours: the stale one goes")
        XCTAssertEqual(headers.first(name: "x-b3-flags"), "1")
        XCTAssertNil(headers.first(name: "x-b3-sampled"))
        XCTAssertNil(headers.first(name: "x-b3-parentspanid"))
        // Round trip through the parser.
        XCTAssertEqual(TraceContextParser.parseTraceParent(TraceHeaderWriter.traceParent(outgoing))?.traceID, outgoing.traceID)
        XCTAssertEqual(TraceContextParser.parseB3Single(TraceHeaderWriter.b3Single(outgoing))?.parentSpanID, outgoing.spanID)
    }

    func testAccessLogCarriesTraceAndSpan() {
        var rec = record(status: 200)
        rec.traceID = TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736)
        rec.spanID = 0x00f0_67aa_0ba9_02b7
        var buffer = ByteBuffer()
        AccessLogFormatter.writeJSON(rec, timestamp: "2026-01-01T00:00:00.000Z", into: &buffer)
        let line = String(buffer: buffer)
        XCTAssertTrue(line.contains("\"trace_id\":\"\(traceHex)\",\"span_id\":\"\(parentHex)\""), line)
        var plain = ByteBuffer()
        AccessLogFormatter.writeJSON(record(status: 200), timestamp: "2026-01-01T00:00:00.000Z", into: &plain)
        XCTAssertTrue(String(buffer: plain).contains("\"trace_id\":null,\"span_id\":null"))
    }

    private func record(status: Int) -> AccessLogRecord {
        var record = AccessLogRecord(direction: .outbound, listener: "egress", method: "GET", path: "/x?y=1", requestID: "r", peerIdentity: nil)
        record.status = status
        record.cluster = "payments"
        return record
    }
}

/// A downstream that only reports addresses (what `ExchangeTrace.finish` reads).
final class StubDownstream: DownstreamStream {
    let eventLoop: EventLoop = EmbeddedEventLoop()
    var isWritable: Bool { true }
    func sendResponseHead(_ head: consuming ProxyResponseHead) {}
    func sendResponseBody(_ buffer: ByteBuffer) {}
    func sendResponseEnd(_ trailers: HTTPHeaders?) {}
    func setRequestReadingPaused(_ paused: Bool) {}
    func abort() {}
    func exchangeDidFinish(_ exchange: ProxyExchange) {}
    var localAddress: SocketAddress? { try? SocketAddress(ipAddress: "127.0.0.1", port: 15006) }
    var remoteAddress: SocketAddress? { try? SocketAddress(ipAddress: "127.0.0.2", port: 40000) }
}

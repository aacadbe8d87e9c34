import Foundation
import NIOCore
import XCTest
@testable import Sidecar

/// The OTLP protobuf body: encoded by `OTLPSpanEncoder`, decoded back with SwiftProtobuf.
final class TraceSpanEncodingTests: XCTestCase {
    private func decode(_ spans: [SpanRecord]) throws -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
        let body = OTLPSpanEncoder.body(spans, serviceName: "orders")
        return try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: Array(body.readableBytesView))
    }

    private func attributes(_ span: Opentelemetry_Proto_Trace_V1_Span) -> [String: Opentelemetry_Proto_Common_V1_AnyValue.OneOf_Value] {
        var out: [String: Opentelemetry_Proto_Common_V1_AnyValue.OneOf_Value] = [:]
        for attribute in span.attributes { out[attribute.key] = attribute.value.value }
        return out
    }

    func testClientSpanRoundTrip() throws {
        var record = SpanRecord(
            kind: .client, traceID: TraceID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10), spanID: 0x1112_1314_1516_1718,
            parentSpanID: 0x2122_2324_2526_2728, startUnixNanos: 1_000, method: "POST", target: "/pay/now?amount=3"
        )
        record.endUnixNanos = 5_000
        record.statusCode = 503
        record.upstream = SocketAddressSpec(host: "10.1.2.3", port: 9001)
        record.cluster = "payments"
        record.resendCount = 1
        record.errorType = "503"

        let request = try decode([record])
        XCTAssertEqual(request.resourceSpans.count, 1)
        let resource = request.resourceSpans[0]
        XCTAssertEqual(resource.resource.attributes.map(\.key), ["service.name"])
        XCTAssertEqual(resource.resource.attributes[0].value.stringValue, "orders")
        XCTAssertEqual(resource.scopeSpans.count, 1)
        XCTAssertEqual(resource.scopeSpans[0].scope.name, "sidecar")
        let span = try XCTUnwrap(resource.scopeSpans[0].spans.first)
        XCTAssertEqual(Array(span.traceID), Array(1...16).map(UInt8.init))
        XCTAssertEqual(Array(span.spanID), [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18])
        XCTAssertEqual(Array(span.parentSpanID), [0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28])
        XCTAssertEqual(span.kind, .client)
        XCTAssertEqual(span.name, "POST")
        XCTAssertEqual(span.startTimeUnixNano, 1_000)
        XCTAssertEqual(span.endTimeUnixNano, 5_000)
        XCTAssertEqual(span.status.code, .error)
        let attrs = attributes(span)
        XCTAssertEqual(attrs["http.request.method"], .stringValue("POST"))
        XCTAssertEqual(attrs["url.path"], .stringValue("/pay/now"))
        XCTAssertEqual(attrs["http.response.status_code"], .intValue(503))
        XCTAssertEqual(attrs["server.address"], .stringValue("10.1.2.3"))
        XCTAssertEqual(attrs["server.port"], .intValue(9001))
        XCTAssertEqual(attrs["network.peer.address"], .stringValue("10.1.2.3"))
        XCTAssertEqual(attrs["http.request.resend_count"], .intValue(1))
        XCTAssertEqual(attrs["error.type"], .stringValue("503"))
        XCTAssertEqual(attrs["sidecar.cluster"], .stringValue("payments"))
        XCTAssertNil(attrs["sidecar.error"])
    }

    func testServerSpanRoundTrip() throws {
        var record = SpanRecord(
            kind: .server, traceID: TraceID(high: 1, low: 2), spanID: 3, parentSpanID: 0,
            startUnixNanos: 10, method: "GET", target: "http://orders:8080/a/b?c"
        )
        record.endUnixNanos = 20
        record.statusCode = 403
        record.localAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 15006)
        record.peerAddress = try SocketAddress(ipAddress: "127.0.0.9", port: 50000)
        record.peerIdentity = "spiffe://mesh.local/ns/default/sa/orders"
        record.sidecarError = "forbidden"
        record.errorType = "forbidden"

        let span = try XCTUnwrap(try decode([record]).resourceSpans.first?.scopeSpans.first?.spans.first)
        XCTAssertEqual(span.kind, .server)
        XCTAssertTrue(span.parentSpanID.isEmpty, "a root span has no parent")
        XCTAssertEqual(span.status.code, .error)
        XCTAssertEqual(span.status.message, "forbidden")
        let attrs = attributes(span)
        XCTAssertEqual(attrs["url.path"], .stringValue("/a/b"))
        XCTAssertEqual(attrs["server.address"], .stringValue("127.0.0.1"))
        XCTAssertEqual(attrs["server.port"], .intValue(15006))
        XCTAssertEqual(attrs["network.peer.address"], .stringValue("127.0.0.9"))
        XCTAssertEqual(attrs["sidecar.peer.identity"], .stringValue("spiffe://mesh.local/ns/default/sa/orders"))
        XCTAssertEqual(attrs["sidecar.error"], .stringValue("forbidden"))
        XCTAssertNil(attrs["http.request.resend_count"])
    }

    func testStatusFollowsSemanticConventions() throws {
        var server = SpanRecord(kind: .server, traceID: TraceID(high: 1, low: 1), spanID: 1, parentSpanID: 0, startUnixNanos: 0, method: "GET", target: "/")
        server.statusCode = 404
        XCTAssertFalse(server.isError, "a 4xx is not a server error")
        server.statusCode = 500
        XCTAssertTrue(server.isError)
        var client = server
        client.kind = .client
        client.statusCode = 404
        XCTAssertTrue(client.isError, "a 4xx is a client error")
        client.statusCode = 200
        let span = try XCTUnwrap(try decode([client]).resourceSpans.first?.scopeSpans.first?.spans.first)
        XCTAssertEqual(span.status.code, .unset)
    }

    func testManySpansShareOneResourceAndScope() throws {
        let spans = (1...50).map { index in
            SpanRecord(kind: .client, traceID: TraceID(high: 1, low: UInt64(index)), spanID: UInt64(index), parentSpanID: 0, startUnixNanos: 0, method: "GET", target: "/")
        }
        let request = try decode(spans)
        XCTAssertEqual(request.resourceSpans.count, 1)
        XCTAssertEqual(request.resourceSpans[0].scopeSpans.count, 1)
        XCTAssertEqual(request.resourceSpans[0].scopeSpans[0].spans.count, 50)
    }

    func testURLPath() {
        XCTAssertEqual(OTLPSpanEncoder.urlPath("/a?b=1"), "/a")
        XCTAssertEqual(OTLPSpanEncoder.urlPath("/"), "/")
        XCTAssertEqual(OTLPSpanEncoder.urlPath("http://host:1/x/y?z"), "/x/y")
        XCTAssertEqual(OTLPSpanEncoder.urlPath("http://host"), "/")
    }

    /// The written body is byte for byte what SwiftProtobuf serializes from the message
    /// `OTLPSpanEncoder.request` builds: random records with every optional field on or off,
    /// empty and long strings (one- and two-byte lengths), large numbers, batches of 0 to 300 spans
    /// (lengths of one to three bytes), and fixed ones: a port 0 (an integer value of 0) and a
    /// span over 16 KiB (a span length of three bytes). The seed is in the failure message.
    func testWrittenBodyIsWhatSwiftProtobufSerializes() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = FastRandom(seed: seed)
        func text(_ generator: inout FastRandom) -> String {
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: return ""
            case 1: return "x"
            case 2: return String(repeating: "é/", count: Int.random(in: 60...200, using: &generator))
            default: return "/orders/\(UInt32.random(in: 0...UInt32.max, using: &generator))?q=1"
            }
        }
        func record(_ generator: inout FastRandom) -> SpanRecord {
            let kind: SpanRecord.Kind = Bool.random(using: &generator) ? .client : .server
            var record = SpanRecord(
                kind: kind,
                traceID: TraceID(high: UInt64.random(in: 0...UInt64.max, using: &generator), low: UInt64.random(in: 1...UInt64.max, using: &generator)),
                spanID: UInt64.random(in: 1...UInt64.max, using: &generator),
                parentSpanID: Bool.random(using: &generator) ? 0 : UInt64.random(in: 1...UInt64.max, using: &generator),
                startUnixNanos: Bool.random(using: &generator) ? 0 : UInt64.random(in: 0...UInt64.max / 2, using: &generator),
                method: ["GET", "POST", ""].randomElement(using: &generator)!,
                target: text(&generator)
            )
            record.endUnixNanos = Bool.random(using: &generator) ? 0 : UInt64.random(in: 0...UInt64.max / 2, using: &generator)
            record.statusCode = [0, 200, 404, 503].randomElement(using: &generator)!
            if Bool.random(using: &generator) { record.upstream = SocketAddressSpec(host: text(&generator), port: Int.random(in: 0...65535, using: &generator)) }
            if Bool.random(using: &generator) { record.localAddress = try? SocketAddress(ipAddress: "127.0.0.1", port: 15001) }
            if Bool.random(using: &generator) { record.peerAddress = try? SocketAddress(ipAddress: "::1", port: Int.random(in: 0...65535, using: &generator)) }
            if Bool.random(using: &generator) { record.errorType = text(&generator) }
            if Bool.random(using: &generator) { record.cluster = text(&generator) }
            if Bool.random(using: &generator) { record.peerIdentity = "spiffe://mesh.local/ns/default/sa/\(text(&generator))" }
            if Bool.random(using: &generator) { record.sidecarError = text(&generator) }
            record.resendCount = [0, 1, 200].randomElement(using: &generator)!
            return record
        }
        func check(_ records: [SpanRecord], service: String) throws -> Bool {
            let expected: [UInt8] = try OTLPSpanEncoder.request(records, serviceName: service).serializedBytes()
            let written = Array(OTLPSpanEncoder.body(records, serviceName: service).readableBytesView)
            guard written != expected else { return true }
            let firstDifference = zip(written, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(written.count, expected.count)
            XCTFail("seed \(seed), \(records.count) spans: bytes differ from offset \(firstDifference) (\(written.count) written, \(expected.count) expected)")
            return false
        }
        var fixed = record(&generator)
        fixed.upstream = SocketAddressSpec(host: "10.0.0.1", port: 0)
        fixed.cluster = String(repeating: "c", count: 20_000)
        guard try check([fixed], service: "orders") else { return }
        for count in [0, 1, 2, 7, 300] {
            for _ in 0..<(count > 7 ? 3 : 40) {
                let records = (0..<count).map { _ in record(&generator) }
                guard try check(records, service: text(&generator)) else { return }
            }
        }
    }

    func testVarintSizes() {
        for (value, size) in [(0, 1), (127, 1), (128, 2), (16383, 2), (16384, 3), (UInt64.max, 10)] as [(UInt64, Int)] {
            XCTAssertEqual(OTLPTraceBodyWriter.varintSize(value), size, "\(value)")
            var buffer = ByteBuffer()
            buffer.writeVarint(value)
            XCTAssertEqual(buffer.readableBytes, size, "\(value)")
        }
    }
}

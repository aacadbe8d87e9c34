import Atomics
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftProtobuf

/// The demo's trace collector: an OTLP/HTTP receiver (`POST /v1/traces`, protobuf
/// `ExportTraceServiceRequest`) on loopback that keeps the spans every demo sidecar exports, so
/// the demo can count traces that crossed several sidecars and draw one as a tree.
final class DemoOTLPReceiver: Sendable {
    /// One received span, flattened.
    struct Span: Sendable {
        var traceID: String
        var spanID: String
        var parentSpanID: String
        var name: String
        var isServer: Bool
        var service: String
        var startNanos: UInt64
        var endNanos: UInt64
        var attributes: [String: String]
    }

    /// At most this many spans are kept (the demo runs for seconds; this bounds a long run).
    static let maxSpans = 200_000

    private let spans = NIOLockedValueBox<[Span]>([])
    let exportRequests = ManagedAtomic<Int>(0)
    let rejectedRequests = ManagedAtomic<Int>(0)
    private let server = DemoHTTPServer()

    /// Binds 127.0.0.1 on a free port; returns the port.
    func start(group: EventLoopGroup) async throws -> Int {
        try await server.start(group: group) { DemoOTLPHandler(receiver: self) }
    }

    func stop() async {
        await server.stop()
    }

    func allSpans() -> [Span] {
        spans.withLockedValue { $0 }
    }

    var spanCount: Int {
        spans.withLockedValue { $0.count }
    }

    /// Decodes one export body; false when it is not a valid `ExportTraceServiceRequest`.
    func receive(_ body: ByteBuffer) -> Bool {
        exportRequests.wrappingIncrement(ordering: .relaxed)
        let request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
        do {
            request = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: Array(body.readableBytesView))
        } catch {
            rejectedRequests.wrappingIncrement(ordering: .relaxed)
            return false
        }
        var received: [Span] = []
        for resourceSpans in request.resourceSpans {
            let service = resourceSpans.resource.attributes.first { $0.key == "service.name" }?.value.stringValue ?? "?"
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    var attributes: [String: String] = [:]
                    for attribute in span.attributes {
                        attributes[attribute.key] = Self.text(attribute.value)
                    }
                    received.append(Span(
                        traceID: Self.hex(span.traceID), spanID: Self.hex(span.spanID),
                        parentSpanID: Self.hex(span.parentSpanID), name: span.name,
                        isServer: span.kind == .server, service: service,
                        startNanos: span.startTimeUnixNano, endNanos: span.endTimeUnixNano,
                        attributes: attributes))
                }
            }
        }
        spans.withLockedValue { spans in
            let room = max(0, Self.maxSpans - spans.count)
            spans.append(contentsOf: received.prefix(room))
        }
        return true
    }

    private static func text(_ value: Opentelemetry_Proto_Common_V1_AnyValue) -> String {
        switch value.value {
        case .stringValue(let s): return s
        case .intValue(let i): return String(i)
        case .boolValue(let b): return String(b)
        case .doubleValue(let d): return String(d)
        default: return ""
        }
    }

    private static func hex(_ data: Data) -> String {
        var out = ""
        out.reserveCapacity(data.count * 2)
        for byte in data {
            out += String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }
        return out
    }
}

/// One connection to the `DemoOTLPReceiver`. Loop-bound.
final class DemoOTLPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let receiver: DemoOTLPReceiver
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(receiver: DemoOTLPReceiver) {
        self.receiver = receiver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes <= 16 * 1024 * 1024 {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let status: HTTPResponseStatus
            if head.method != .POST || !head.uri.hasPrefix("/v1/traces") {
                status = .notFound
            } else {
                status = receiver.receive(body) ? .ok : .badRequest
            }
            body.clear()
            // An empty ExportTraceServiceResponse is zero bytes of protobuf.
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/x-protobuf")
            headers.add(name: "content-length", value: "0")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

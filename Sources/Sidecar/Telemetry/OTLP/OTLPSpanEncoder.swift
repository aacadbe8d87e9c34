import Foundation
import NIOCore
import SwiftProtobuf

/// Converts recorded spans into an OTLP `ExportTraceServiceRequest`: one `ResourceSpans` with
/// `service.name`, one `ScopeSpans` with scope `sidecar`, attributes per the OpenTelemetry HTTP
/// semantic conventions plus `sidecar.*`. Runs on the exporter's thread, never on the data path.
/// `request` builds the SwiftProtobuf message (the reference: tests check the written bytes
/// against its serialization); `body` writes the bytes directly.
enum OTLPSpanEncoder {
    static let scopeName = "sidecar"

    static func request(_ spans: [SpanRecord], serviceName: String) -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope.name = scopeName
        scopeSpans.scope.version = SidecarVersion.string
        scopeSpans.spans = spans.map(span)
        var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resourceSpans.resource.attributes = [attribute("service.name", serviceName)]
        resourceSpans.scopeSpans = [scopeSpans]
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = [resourceSpans]
        return request
    }

    /// The request serialized as a protobuf body: written straight from the records by
    /// `OTLPTraceBodyWriter` (the same bytes SwiftProtobuf makes from `request`, at a fraction of
    /// the cost: no message values built per span and attribute).
    static func body(_ spans: [SpanRecord], serviceName: String) -> ByteBuffer {
        var writer = OTLPTraceBodyWriter()
        return writer.body(spans, serviceName: serviceName)
    }

    static func span(_ record: SpanRecord) -> Opentelemetry_Proto_Trace_V1_Span {
        var span = Opentelemetry_Proto_Trace_V1_Span()
        span.traceID = Data(record.traceID.bytes)
        span.spanID = Data(bytes(record.spanID))
        if record.parentSpanID != 0 {
            span.parentSpanID = Data(bytes(record.parentSpanID))
        }
        span.flags = flags(of: record)
        span.name = record.method
        span.kind = record.kind == .server ? .server : .client
        span.startTimeUnixNano = record.startUnixNanos
        span.endTimeUnixNano = max(record.endUnixNanos, record.startUnixNanos)

        var attributes: [Opentelemetry_Proto_Common_V1_KeyValue] = []
        attributes.reserveCapacity(12)
        forEachAttribute(of: record) { key, value in
            switch value {
            case .string(let text): attributes.append(attribute(key, text))
            case .int(let number): attributes.append(attribute(key, number))
            }
        }
        span.attributes = attributes

        if record.isError {
            var status = Opentelemetry_Proto_Trace_V1_Status()
            status.code = .error
            status.message = statusMessage(of: record)
            span.status = status
        }
        return span
    }

    /// An attribute's value: the sidecar writes strings and integers only.
    enum AttributeValue {
        case string(String)
        case int(Int)
    }

    /// The span's attributes in order, per the OpenTelemetry HTTP semantic conventions plus
    /// `sidecar.*` (shared by `span(_:)` and `OTLPTraceBodyWriter`).
    static func forEachAttribute(of record: SpanRecord, _ body: (String, AttributeValue) -> Void) {
        body("http.request.method", .string(record.method))
        body("url.path", .string(urlPath(record.target)))
        if record.statusCode > 0 {
            body("http.response.status_code", .int(record.statusCode))
        }
        switch record.kind {
        case .client:
            if let upstream = record.upstream {
                body("server.address", .string(upstream.host))
                body("server.port", .int(upstream.port))
                body("network.peer.address", .string(upstream.host))
                body("network.peer.port", .int(upstream.port))
            }
            if record.resendCount > 0 {
                body("http.request.resend_count", .int(record.resendCount))
            }
        case .server:
            if let local = record.localAddress {
                if let ip = local.ipAddress { body("server.address", .string(ip)) }
                if let port = local.port { body("server.port", .int(port)) }
            }
            if let peer = record.peerAddress {
                if let ip = peer.ipAddress { body("network.peer.address", .string(ip)) }
                if let port = peer.port { body("network.peer.port", .int(port)) }
            }
        }
        if let errorType = record.errorType { body("error.type", .string(errorType)) }
        if let cluster = record.cluster { body("sidecar.cluster", .string(cluster)) }
        if let identity = record.peerIdentity { body("sidecar.peer.identity", .string(identity)) }
        if let flag = record.sidecarError { body("sidecar.error", .string(flag)) }
    }

    /// The ERROR status's message.
    static func statusMessage(of record: SpanRecord) -> String {
        record.sidecarError ?? record.errorType ?? ""
    }

    /// `flags`: sampled, and whether the parent came from another process (it always does here).
    static func flags(of record: SpanRecord) -> UInt32 {
        0x01 | 0x100 | (record.parentSpanID != 0 ? 0x200 : 0)
    }

    /// The path of a request target: without the query, and without scheme and authority for an
    /// absolute-form target.
    static func urlPath(_ target: String) -> String {
        var path = Substring(target)
        if path.hasPrefix("http://") || path.hasPrefix("https://") {
            let afterScheme = path[path.index(path.firstIndex(of: ":")!, offsetBy: 3)...]
            path = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            path = path[..<query]
        }
        return String(path)
    }

    private static func bytes(_ id: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: id >> UInt64(56 - $0 * 8)) }
    }

    private static func attribute(_ key: String, _ value: String) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var attribute = Opentelemetry_Proto_Common_V1_KeyValue()
        attribute.key = key
        attribute.value.stringValue = value
        return attribute
    }

    private static func attribute(_ key: String, _ value: Int) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var attribute = Opentelemetry_Proto_Common_V1_KeyValue()
        attribute.key = key
        attribute.value.intValue = Int64(value)
        return attribute
    }
}

import Foundation
import NIOCore
import SwiftProtobuf

/// Converts recorded spans into an OTLP `ExportTraceServiceRequest`: one `ResourceSpans` with
/// `service.name`, one `ScopeSpans` with scope `sidecar`, attributes per the OpenTelemetry HTTP
/// semantic conventions plus `sidecar.*`. Runs on the exporter's thread, never on the data path.
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

    /// The request serialized as a protobuf body.
    static func body(_ spans: [SpanRecord], serviceName: String) throws -> ByteBuffer {
        let bytes: [UInt8] = try request(spans, serviceName: serviceName).serializedBytes()
        return ByteBuffer(bytes: bytes)
    }

    static func span(_ record: SpanRecord) -> Opentelemetry_Proto_Trace_V1_Span {
        var span = Opentelemetry_Proto_Trace_V1_Span()
        span.traceID = Data(record.traceID.bytes)
        span.spanID = Data(bytes(record.spanID))
        if record.parentSpanID != 0 {
            span.parentSpanID = Data(bytes(record.parentSpanID))
        }
        // Sampled, and whether the parent came from another process (it always does here).
        span.flags = 0x01 | 0x100 | (record.parentSpanID != 0 ? 0x200 : 0)
        span.name = record.method
        span.kind = record.kind == .server ? .server : .client
        span.startTimeUnixNano = record.startUnixNanos
        span.endTimeUnixNano = max(record.endUnixNanos, record.startUnixNanos)

        var attributes: [Opentelemetry_Proto_Common_V1_KeyValue] = []
        attributes.reserveCapacity(12)
        attributes.append(attribute("http.request.method", record.method))
        attributes.append(attribute("url.path", urlPath(record.target)))
        if record.statusCode > 0 {
            attributes.append(attribute("http.response.status_code", record.statusCode))
        }
        switch record.kind {
        case .client:
            if let upstream = record.upstream {
                attributes.append(attribute("server.address", upstream.host))
                attributes.append(attribute("server.port", upstream.port))
                attributes.append(attribute("network.peer.address", upstream.host))
                attributes.append(attribute("network.peer.port", upstream.port))
            }
            if record.resendCount > 0 {
                attributes.append(attribute("http.request.resend_count", record.resendCount))
            }
        case .server:
            if let local = record.localAddress {
                if let ip = local.ipAddress { attributes.append(attribute("server.address", ip)) }
                if let port = local.port { attributes.append(attribute("server.port", port)) }
            }
            if let peer = record.peerAddress {
                if let ip = peer.ipAddress { attributes.append(attribute("network.peer.address", ip)) }
                if let port = peer.port { attributes.append(attribute("network.peer.port", port)) }
            }
        }
        if let errorType = record.errorType { attributes.append(attribute("error.type", errorType)) }
        if let cluster = record.cluster { attributes.append(attribute("sidecar.cluster", cluster)) }
        if let identity = record.peerIdentity { attributes.append(attribute("sidecar.peer.identity", identity)) }
        if let flag = record.sidecarError { attributes.append(attribute("sidecar.error", flag)) }
        span.attributes = attributes

        if record.isError {
            var status = Opentelemetry_Proto_Trace_V1_Status()
            status.code = .error
            status.message = record.sidecarError ?? record.errorType ?? ""
            span.status = status
        }
        return span
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

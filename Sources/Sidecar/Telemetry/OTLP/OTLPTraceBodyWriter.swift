import NIOCore

/// Writes an OTLP `ExportTraceServiceRequest` protobuf straight from `SpanRecord`s: one
/// `ResourceSpans` (`service.name`), one `ScopeSpans` (scope `sidecar`), the spans with the
/// attributes `OTLPSpanEncoder.forEachAttribute` lists.
///
/// The bytes are those SwiftProtobuf serializes from `OTLPSpanEncoder.request` (fields in number
/// order, proto3 defaults left out, oneof members always written; `TraceSpanEncodingTests`
/// compares the two), without building a message value per span and per attribute: building
/// and serializing those took most of the exporter's CPU, about a fifth of a traced sidecar's.
/// Each span is written into a scratch buffer and copied behind its length; the scope's spans
/// are copied once more into the request behind theirs.
struct OTLPTraceBodyWriter {
    private var span = ByteBuffer()
    private var spans = ByteBuffer()

    // Field tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
    private enum Tag {
        static let resourceSpans: UInt64 = 1 << 3 | 2  // ExportTraceServiceRequest.resource_spans
        static let resource: UInt64 = 1 << 3 | 2  // ResourceSpans.resource
        static let scopeSpans: UInt64 = 2 << 3 | 2  // ResourceSpans.scope_spans
        static let resourceAttributes: UInt64 = 1 << 3 | 2  // Resource.attributes
        static let scope: UInt64 = 1 << 3 | 2  // ScopeSpans.scope
        static let spans: UInt64 = 2 << 3 | 2  // ScopeSpans.spans
        static let scopeName: UInt64 = 1 << 3 | 2  // InstrumentationScope.name
        static let scopeVersion: UInt64 = 2 << 3 | 2  // InstrumentationScope.version
        static let traceID: UInt64 = 1 << 3 | 2  // Span.trace_id
        static let spanID: UInt64 = 2 << 3 | 2  // Span.span_id
        static let parentSpanID: UInt64 = 4 << 3 | 2  // Span.parent_span_id
        static let name: UInt64 = 5 << 3 | 2  // Span.name
        static let kind: UInt64 = 6 << 3 | 0  // Span.kind
        static let start: UInt64 = 7 << 3 | 1  // Span.start_time_unix_nano
        static let end: UInt64 = 8 << 3 | 1  // Span.end_time_unix_nano
        static let attributes: UInt64 = 9 << 3 | 2  // Span.attributes
        static let status: UInt64 = 15 << 3 | 2  // Span.status
        static let flags: UInt64 = 16 << 3 | 5  // Span.flags
        static let statusMessage: UInt64 = 2 << 3 | 2  // Status.message
        static let statusCode: UInt64 = 3 << 3 | 0  // Status.code
        static let key: UInt64 = 1 << 3 | 2  // KeyValue.key
        static let value: UInt64 = 2 << 3 | 2  // KeyValue.value
        static let stringValue: UInt64 = 1 << 3 | 2  // AnyValue.string_value
        static let intValue: UInt64 = 3 << 3 | 0  // AnyValue.int_value
    }

    private static let spanKindServer: UInt64 = 2
    private static let spanKindClient: UInt64 = 3
    private static let statusCodeError: UInt64 = 2

    mutating func body(_ records: [SpanRecord], serviceName: String) -> ByteBuffer {
        spans.clear()
        // ScopeSpans: the scope, then the spans.
        let scopeLength = Self.stringFieldSize(OTLPSpanEncoder.scopeName) + Self.stringFieldSize(SidecarVersion.string)
        spans.writeVarint(Tag.scope)
        spans.writeVarint(UInt64(scopeLength))
        Self.writeStringField(Tag.scopeName, OTLPSpanEncoder.scopeName, into: &spans)
        Self.writeStringField(Tag.scopeVersion, SidecarVersion.string, into: &spans)
        for record in records {
            span.clear()
            writeSpan(record)
            spans.writeVarint(Tag.spans)
            spans.writeVarint(UInt64(span.readableBytes))
            spans.writeImmutableBuffer(span)
        }
        // ResourceSpans: the resource (its one attribute), then the ScopeSpans.
        let serviceAttribute = Self.keyValueSize("service.name", .string(serviceName))
        let resourceLength = Self.lengthDelimitedSize(serviceAttribute)
        let resourceSpansLength = Self.lengthDelimitedSize(resourceLength) + Self.lengthDelimitedSize(spans.readableBytes)
        var out = ByteBuffer()
        out.reserveCapacity(Self.lengthDelimitedSize(resourceSpansLength))
        out.writeVarint(Tag.resourceSpans)
        out.writeVarint(UInt64(resourceSpansLength))
        out.writeVarint(Tag.resource)
        out.writeVarint(UInt64(resourceLength))
        Self.writeKeyValue(Tag.resourceAttributes, "service.name", .string(serviceName), into: &out)
        out.writeVarint(Tag.scopeSpans)
        out.writeVarint(UInt64(spans.readableBytes))
        out.writeImmutableBuffer(spans)
        return out
    }

    private mutating func writeSpan(_ record: SpanRecord) {
        span.writeVarint(Tag.traceID)
        span.writeVarint(16)
        span.writeInteger(record.traceID.high)
        span.writeInteger(record.traceID.low)
        span.writeVarint(Tag.spanID)
        span.writeVarint(8)
        span.writeInteger(record.spanID)
        if record.parentSpanID != 0 {
            span.writeVarint(Tag.parentSpanID)
            span.writeVarint(8)
            span.writeInteger(record.parentSpanID)
        }
        Self.writeStringField(Tag.name, record.method, into: &span)
        span.writeVarint(Tag.kind)
        span.writeVarint(record.kind == .server ? Self.spanKindServer : Self.spanKindClient)
        let start = record.startUnixNanos
        let end = max(record.endUnixNanos, record.startUnixNanos)
        if start != 0 {
            span.writeVarint(Tag.start)
            span.writeInteger(start, endianness: .little)
        }
        if end != 0 {
            span.writeVarint(Tag.end)
            span.writeInteger(end, endianness: .little)
        }
        OTLPSpanEncoder.forEachAttribute(of: record) { key, value in
            Self.writeKeyValue(Tag.attributes, key, value, into: &span)
        }
        if record.isError {
            let message = OTLPSpanEncoder.statusMessage(of: record)
            let length = Self.stringFieldSize(message) + 1 + Self.varintSize(Self.statusCodeError)
            span.writeVarint(Tag.status)
            span.writeVarint(UInt64(length))
            Self.writeStringField(Tag.statusMessage, message, into: &span)
            span.writeVarint(Tag.statusCode)
            span.writeVarint(Self.statusCodeError)
        }
        span.writeVarint(Tag.flags)
        span.writeInteger(OTLPSpanEncoder.flags(of: record), endianness: .little)
    }

    // MARK: Sizes and fields

    /// A `KeyValue` field (`tag`) holding `key` and `value` (an `AnyValue` with one member set).
    private static func writeKeyValue(_ tag: UInt64, _ key: String, _ value: OTLPSpanEncoder.AttributeValue, into buffer: inout ByteBuffer) {
        buffer.writeVarint(tag)
        buffer.writeVarint(UInt64(keyValueSize(key, value)))
        writeStringField(Tag.key, key, into: &buffer)
        buffer.writeVarint(Tag.value)
        switch value {
        case .string(let text):
            buffer.writeVarint(UInt64(1 + varintSize(UInt64(text.utf8.count)) + text.utf8.count))
            buffer.writeVarint(Tag.stringValue)  // a oneof member: written even when empty
            buffer.writeVarint(UInt64(text.utf8.count))
            buffer.writeString(text)
        case .int(let number):
            let bits = UInt64(bitPattern: Int64(number))
            buffer.writeVarint(UInt64(1 + varintSize(bits)))
            buffer.writeVarint(Tag.intValue)
            buffer.writeVarint(bits)
        }
    }

    /// The length of a `KeyValue`'s body.
    private static func keyValueSize(_ key: String, _ value: OTLPSpanEncoder.AttributeValue) -> Int {
        let anyValue: Int
        switch value {
        case .string(let text): anyValue = 1 + varintSize(UInt64(text.utf8.count)) + text.utf8.count
        case .int(let number): anyValue = 1 + varintSize(UInt64(bitPattern: Int64(number)))
        }
        return stringFieldSize(key) + lengthDelimitedSize(anyValue)
    }

    /// A proto3 string field: left out when empty.
    private static func writeStringField(_ tag: UInt64, _ text: String, into buffer: inout ByteBuffer) {
        let count = text.utf8.count
        guard count > 0 else { return }
        buffer.writeVarint(tag)
        buffer.writeVarint(UInt64(count))
        buffer.writeString(text)
    }

    private static func stringFieldSize(_ text: String) -> Int {
        let count = text.utf8.count
        return count == 0 ? 0 : 1 + varintSize(UInt64(count)) + count
    }

    /// A length-delimited field with a one-byte tag and a body of `length` bytes.
    private static func lengthDelimitedSize(_ length: Int) -> Int {
        1 + varintSize(UInt64(length)) + length
    }

    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }
}

extension ByteBuffer {
    /// A protobuf base-128 varint.
    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        writeInteger(UInt8(value))
    }
}

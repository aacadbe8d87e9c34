import NIOCore

/// Formats an access-log record as one JSON line.
enum AccessLogFormatter {
    static func writeJSON(_ record: AccessLogRecord, timestamp: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"time\":\"")
        buffer.writeString(timestamp)
        buffer.writeStaticString("\",\"direction\":\"")
        buffer.writeString(record.direction.rawValue)
        buffer.writeStaticString("\",\"listener\":")
        writeString(record.listener, into: &buffer)
        buffer.writeStaticString(",\"method\":")
        writeString(record.method, into: &buffer)
        buffer.writeStaticString(",\"path\":")
        writeString(record.path, into: &buffer)
        buffer.writeStaticString(",\"status\":")
        buffer.writeString(String(record.status))
        buffer.writeStaticString(",\"flags\":[")
        for (index, flag) in record.flags.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            writeString(flag, into: &buffer)
        }
        buffer.writeStaticString("],\"duration_ms\":")
        let micros = record.duration.nanoseconds / 1000
        buffer.writeString(String(micros / 1000))
        buffer.writeStaticString(".")
        let fraction = micros % 1000
        if fraction < 100 { buffer.writeStaticString("0") }
        if fraction < 10 { buffer.writeStaticString("0") }
        buffer.writeString(String(fraction))
        buffer.writeStaticString(",\"cluster\":")
        writeOptional(record.cluster, into: &buffer)
        buffer.writeStaticString(",\"upstream\":")
        writeOptional(record.upstreamAddress, into: &buffer)
        buffer.writeStaticString(",\"bytes_in\":")
        buffer.writeString(String(record.bytesReceived))
        buffer.writeStaticString(",\"bytes_out\":")
        buffer.writeString(String(record.bytesSent))
        buffer.writeStaticString(",\"attempts\":")
        buffer.writeString(String(record.attempts))
        buffer.writeStaticString(",\"request_id\":")
        writeString(record.requestID, into: &buffer)
        buffer.writeStaticString(",\"peer_identity\":")
        writeOptional(record.peerIdentity, into: &buffer)
        buffer.writeStaticString(",\"trace_id\":")
        if let traceID = record.traceID {
            buffer.writeStaticString("\"")
            TraceHex.write(traceID.high, into: &buffer)
            TraceHex.write(traceID.low, into: &buffer)
            buffer.writeStaticString("\"")
        } else {
            buffer.writeStaticString("null")
        }
        buffer.writeStaticString(",\"span_id\":")
        if record.spanID != 0 {
            buffer.writeStaticString("\"")
            TraceHex.write(record.spanID, into: &buffer)
            buffer.writeStaticString("\"")
        } else {
            buffer.writeStaticString("null")
        }
        buffer.writeStaticString("}\n")
    }

    private static func writeOptional(_ value: String?, into buffer: inout ByteBuffer) {
        if let value {
            writeString(value, into: &buffer)
        } else {
            buffer.writeStaticString("null")
        }
    }

    /// Writes `value` as a JSON string literal, escaping quotes, backslashes and control characters.
    static func writeString(_ value: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        let needsEscape = value.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        if !needsEscape {
            buffer.writeString(value)
        } else {
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                case 0..<0x20:
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(byte >> 4)])
                    buffer.writeInteger(hex[Int(byte & 0xF)])
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

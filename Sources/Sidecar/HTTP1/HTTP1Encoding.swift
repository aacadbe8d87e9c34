import NIOCore
import NIOHTTP1

/// HTTP/1.1 message framing written straight into a `ByteBuffer`: start lines, header blocks,
/// chunk framing. The proxy decides framing itself (it never lets an encoder add headers), so
/// encoding is only this.
///
/// A header block is sized first and then copied in one `writeDirectly`, one
/// `memcpy` per name and value: SwiftNIO's encoder writes every piece with its own capacity
/// check, and on the request path that was ~6 % of the hop's instructions.
extension ByteBuffer {
    /// Writes a response head: the status line for `version`, the fields as they arrived (runs
    /// of plain lines copied whole), then the framing fields the downstream decided on —
    /// `transfer-encoding: chunked` when `chunked`, `connection: <connection>` when given.
    mutating func writeHTTPResponseHead(
        _ head: ProxyResponseHead,
        version: HTTPVersion = .http1_1,
        chunked: Bool = false,
        connection: StaticString? = nil
    ) {
        let code = Int(head.status.code)
        let reason = head.status.reasonPhrase
        let framingSize = (chunked ? 28 : 0) + (connection.map { 14 + $0.utf8CodeUnitCount } ?? 0)
        // `HTTP/1.x NNN reason` CRLF, the fields, the framing fields, the blank line: one sized write.
        let size = 13 + reason.utf8.count + 2 + head.fields.encodedLength + framingSize + 2
        let minor = UInt8(truncatingIfNeeded: version.minor)
        let validCode = (100...999).contains(code)
        writeDirectly(minimumWritableBytes: size) { out in
            var offset = out.copyStatic("HTTP/1.", at: 0)
            out[7] = UInt8(ascii: "0") + (minor <= 1 ? minor : 1)
            out[8] = UInt8(ascii: " ")
            // A code outside three digits cannot be sent: the codecs that make heads never do.
            let shown = validCode ? code : 500
            out[9] = UInt8(ascii: "0") + UInt8(shown / 100)
            out[10] = UInt8(ascii: "0") + UInt8(shown / 10 % 10)
            out[11] = UInt8(ascii: "0") + UInt8(shown % 10)
            out[12] = UInt8(ascii: " ")
            offset = out.copyUTF8(reason, at: 13)
            offset = out.copyStatic("\r\n", at: offset)
            offset = head.fields.encode(into: out, at: offset)
            if chunked { offset = out.copyStatic("transfer-encoding: chunked\r\n", at: offset) }
            if let connection {
                offset = out.copyStatic("connection: ", at: offset)
                offset = out.copyStatic(connection, at: offset)
                offset = out.copyStatic("\r\n", at: offset)
            }
            return out.copyStatic("\r\n", at: offset)
        }
    }

    /// Writes a request head: the request line, the fields as they arrived (runs of plain lines
    /// copied whole), `transfer-encoding: chunked` when `chunked`, the blank line. The version is
    /// HTTP/1.1 (what the proxy speaks upstream) unless the head says HTTP/1.0.
    mutating func writeHTTPRequestHead(_ head: ProxyRequestHead, chunked: Bool = false) {
        let staticMethod = head.method.staticName
        let method = staticMethod == nil ? head.method.rawValue : ""
        let size = (staticMethod?.utf8CodeUnitCount ?? method.utf8.count) + 1 + head.uri.utf8.count + 11 + head.fields.encodedLength + (chunked ? 28 : 0) + 2
        let minor: UInt8 = head.version.major == 1 && head.version.minor == 0 ? 0 : 1
        writeDirectly(minimumWritableBytes: size) { out in
            var offset = staticMethod.map { out.copyStatic($0, at: 0) } ?? out.copyUTF8(method, at: 0)
            out[offset] = UInt8(ascii: " ")
            offset = out.copyUTF8(head.uri, at: offset + 1)
            offset = out.copyStatic(" HTTP/1.", at: offset)
            out[offset] = UInt8(ascii: "0") + minor
            offset = out.copyStatic("\r\n", at: offset + 1)
            offset = head.fields.encode(into: out, at: offset)
            if chunked { offset = out.copyStatic("transfer-encoding: chunked\r\n", at: offset) }
            return out.copyStatic("\r\n", at: offset)
        }
    }

    /// `name: value` lines and the blank line that ends the block.
    mutating func writeHTTPHeaderBlock(_ headers: HTTPHeaders) {
        writeDirectly(minimumWritableBytes: Self.headerBlockSize(headers)) { out in
            Self.writeFields(headers, into: out, at: 0)
        }
    }

    private static func headerBlockSize(_ headers: HTTPHeaders) -> Int {
        var size = 2
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        return size
    }

    /// Writes the fields and the blank line at `offset` of a buffer sized by `headerBlockSize`;
    /// returns the offset after them.
    private static func writeFields(_ headers: HTTPHeaders, into out: UnsafeMutableRawBufferPointer, at start: Int) -> Int {
        var offset = start
        for (name, value) in headers {
            offset = out.copyUTF8(name, at: offset)
            out[offset] = UInt8(ascii: ":")
            out[offset + 1] = UInt8(ascii: " ")
            offset = out.copyUTF8(value, at: offset + 2)
            out[offset] = UInt8(ascii: "\r")
            out[offset + 1] = UInt8(ascii: "\n")
            offset += 2
        }
        out[offset] = UInt8(ascii: "\r")
        out[offset + 1] = UInt8(ascii: "\n")
        return offset + 2
    }

    /// The line before a chunk of `size` bytes (`size` in hex, CRLF).
    mutating func writeHTTPChunkHeader(size: Int) {
        let digits = Swift.max(1, (Int.bitWidth - size.leadingZeroBitCount + 3) / 4)
        writeDirectly(minimumWritableBytes: digits + 2) { out in
            let hex: StaticString = "0123456789abcdef"
            for index in 0..<digits {
                let shift = (digits - 1 - index) * 4
                out[index] = hex.utf8Start[(size >> shift) & 0xF]
            }
            out[digits] = UInt8(ascii: "\r")
            out[digits + 1] = UInt8(ascii: "\n")
            return digits + 2
        }
    }

    /// The last chunk: `0`, the trailers, the blank line.
    mutating func writeHTTPLastChunk(trailers: HTTPHeaders?) {
        writeStaticString("0\r\n")
        writeHTTPHeaderBlock(trailers ?? HTTPHeaders())
    }
}

extension UnsafeMutableRawBufferPointer {
    fileprivate func copyStatic(_ text: StaticString, at offset: Int) -> Int {
        (baseAddress! + offset).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        return offset + text.utf8CodeUnitCount
    }

    /// Copies `text`'s UTF-8 bytes to `offset`; returns the offset after them. The caller sized
    /// the buffer.
    fileprivate func copyUTF8(_ text: String, at offset: Int) -> Int {
        let copied = text.utf8.withContiguousStorageIfAvailable { source -> Int in
            if let base = source.baseAddress, source.count > 0 {
                (self.baseAddress! + offset).copyMemory(from: base, byteCount: source.count)
            }
            return source.count
        }
        if let copied { return offset + copied }
        var index = offset
        for byte in text.utf8 {
            self[index] = byte
            index += 1
        }
        return index
    }
}

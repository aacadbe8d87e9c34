import NIOCore
import NIOHTTP1

/// HTTP/1.1 message framing written straight into a `ByteBuffer`: start lines, header blocks,
/// chunk framing. The proxy decides framing itself (it never lets an encoder add headers), so
/// encoding is only this.
///
/// A header block is sized first and then copied in one `writeWithUnsafeMutableBytes`, one
/// `memcpy` per name and value: SwiftNIO's encoder writes every piece with its own capacity
/// check, and on the request path that was ~6 % of the hop's instructions.
extension ByteBuffer {
    mutating func writeHTTPResponseHead(_ head: HTTPResponseHead) {
        let code = Int(head.status.code)
        guard head.version.major == 1, head.version.minor <= 1, (100...999).contains(code) else {
            writeHTTPVersion(head.version)
            writeString(" \(code) \(head.status.reasonPhrase)\r\n")
            writeHTTPHeaderBlock(head.headers)
            return
        }
        // Everything in one sized write: `HTTP/1.x NNN reason`, the fields, the blank line.
        let reason = head.status.reasonPhrase
        let size = 13 + reason.utf8.count + 2 + Self.headerBlockSize(head.headers)
        let minor = UInt8(truncatingIfNeeded: head.version.minor)
        writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            var offset = out.copyStatic("HTTP/1.", at: 0)
            out[7] = UInt8(ascii: "0") + minor
            out[8] = UInt8(ascii: " ")
            out[9] = UInt8(ascii: "0") + UInt8(code / 100)
            out[10] = UInt8(ascii: "0") + UInt8(code / 10 % 10)
            out[11] = UInt8(ascii: "0") + UInt8(code % 10)
            out[12] = UInt8(ascii: " ")
            offset = out.copyUTF8(reason, at: 13)
            offset = out.copyStatic("\r\n", at: offset)
            return Self.writeFields(head.headers, into: out, at: offset)
        }
    }

    mutating func writeHTTPRequestHead(_ head: HTTPRequestHead) {
        guard head.version.major == 1, head.version.minor <= 1 else {
            writeString("\(head.method.rawValue) \(head.uri) ")
            writeHTTPVersion(head.version)
            writeStaticString("\r\n")
            writeHTTPHeaderBlock(head.headers)
            return
        }
        let method = head.method.rawValue
        let size = method.utf8.count + 1 + head.uri.utf8.count + 11 + Self.headerBlockSize(head.headers)
        let minor = UInt8(truncatingIfNeeded: head.version.minor)
        writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            var offset = out.copyUTF8(method, at: 0)
            out[offset] = UInt8(ascii: " ")
            offset = out.copyUTF8(head.uri, at: offset + 1)
            offset = out.copyStatic(" HTTP/1.", at: offset)
            out[offset] = UInt8(ascii: "0") + minor
            offset = out.copyStatic("\r\n", at: offset + 1)
            return Self.writeFields(head.headers, into: out, at: offset)
        }
    }

    /// `name: value` lines and the blank line that ends the block.
    mutating func writeHTTPHeaderBlock(_ headers: HTTPHeaders) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: Self.headerBlockSize(headers)) { out in
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
        writeWithUnsafeMutableBytes(minimumWritableBytes: digits + 2) { out in
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

    private mutating func writeHTTPVersion(_ version: HTTPVersion) {
        switch (version.major, version.minor) {
        case (1, 1): writeStaticString("HTTP/1.1")
        case (1, 0): writeStaticString("HTTP/1.0")
        default:
            writeStaticString("HTTP/")
            writeString(String(version.major))
            writeInteger(UInt8(ascii: "."))
            writeString(String(version.minor))
        }
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

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
        writeHTTPVersion(head.version)
        writeInteger(UInt8(ascii: " "))
        writeHTTPStatusCode(Int(head.status.code))
        writeInteger(UInt8(ascii: " "))
        writeString(head.status.reasonPhrase)
        writeStaticString("\r\n")
        writeHTTPHeaderBlock(head.headers)
    }

    mutating func writeHTTPRequestHead(_ head: HTTPRequestHead) {
        writeString(head.method.rawValue)
        writeInteger(UInt8(ascii: " "))
        writeString(head.uri)
        writeInteger(UInt8(ascii: " "))
        writeHTTPVersion(head.version)
        writeStaticString("\r\n")
        writeHTTPHeaderBlock(head.headers)
    }

    /// `name: value` lines and the blank line that ends the block.
    mutating func writeHTTPHeaderBlock(_ headers: HTTPHeaders) {
        var size = 2
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            var offset = 0
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

    private mutating func writeHTTPStatusCode(_ code: Int) {
        guard (100...999).contains(code) else {
            writeString(String(code))
            return
        }
        writeInteger(UInt8(ascii: "0") + UInt8(code / 100))
        writeInteger(UInt8(ascii: "0") + UInt8(code / 10 % 10))
        writeInteger(UInt8(ascii: "0") + UInt8(code % 10))
    }
}

extension UnsafeMutableRawBufferPointer {
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

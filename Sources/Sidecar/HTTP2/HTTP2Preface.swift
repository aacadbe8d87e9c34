import NIOCore

/// The HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`): how an h2c client
/// with prior knowledge announces itself on a plaintext port shared with HTTP/1.1.
enum HTTP2Preface {
    static let bytes: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Is `bytes` the preface (true), not it (false), or too short to tell (nil)? Decides at the
    /// first byte that differs (an HTTP/1.1 request line differs at its first or second byte).
    static func matches(_ buffer: ByteBuffer) -> Bool? {
        let count = min(buffer.readableBytes, bytes.count)
        let matching = buffer.withUnsafeReadableBytes { raw -> Bool in
            for index in 0..<count where raw[index] != bytes[index] { return false }
            return true
        }
        if !matching { return false }
        return count == bytes.count ? true : nil
    }
}

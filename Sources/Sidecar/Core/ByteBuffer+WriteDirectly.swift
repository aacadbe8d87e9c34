import NIOCore

extension ByteBuffer {
    /// What `writeWithUnsafeMutableBytes(minimumWritableBytes:_:)` does, without its generic slice
    /// of the storage (`dropFirst(writerIndex)`, which did not specialise away: ~150 instructions
    /// a call in the profile, on every head and header field written): room for
    /// `minimumWritableBytes` reserved, the writable bytes handed to `body` as a pointer from the
    /// storage's base, the writer index moved by what `body` returns (at most what it was given).
    @inline(__always)
    @discardableResult
    mutating func writeDirectly(minimumWritableBytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        reserveCapacity(minimumWritableBytes: minimumWritableBytes)
        let start = writerIndex
        let written = withVeryUnsafeMutableBytes { storage in
            body(UnsafeMutableRawBufferPointer(start: storage.baseAddress! + start, count: storage.count - start))
        }
        moveWriterIndex(forwardBy: written)
        return written
    }
}

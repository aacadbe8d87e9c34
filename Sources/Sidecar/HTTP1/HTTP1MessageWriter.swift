import NIOCore
import NIOHTTP1

/// Frames the messages one side of an HTTP/1.1 connection sends (requests upstream, responses
/// downstream) into `ByteBuffer`s, holding small pieces back so that a message with a small body
/// leaves as one buffer: one `writev` entry, and over TLS one record instead of three.
///
/// The head, chunk framing and bodies up to `coalesceLimit` bytes collect in a pending buffer; a
/// larger body is written as it is (no copy), after what was pending. The caller writes the
/// buffers `emit` receives in order and flushes when it flushes; `finish` returns the last one.
///
/// The storage of a small last buffer is kept for the next message's head: once the channel has
/// written it (usually before the flush returns) it is uniquely referenced again and is reused,
/// an allocation and a free less per message; while the channel still holds it, `clear()` makes a
/// fresh one. At most `keptCapacity` bytes stay with an idle connection.
struct HTTP1MessageWriter {
    /// Body chunks up to this size are copied behind the pending bytes.
    static let coalesceLimit = 2048
    /// The pending buffer is handed out once it holds this much.
    static let pendingLimit = 16 * 1024

    /// Largest storage kept for the next message.
    static let keptCapacity = 2048

    private(set) var isChunked = false
    private var pending: ByteBuffer?
    private var kept: ByteBuffer?

    /// Starts a message: `encode` writes its head; `chunked` says how its body is framed.
    mutating func writeHead(
        chunked: Bool,
        allocator: ByteBufferAllocator,
        encode: (inout ByteBuffer) -> Void,
        emit: (ByteBuffer) -> Void
    ) {
        isChunked = chunked
        var buffer: ByteBuffer
        if let pending {
            buffer = pending
        } else if var reused = kept.take() {  // taken, not copied: `clear()` needs it unique
            reused.clear()
            buffer = reused
        } else {
            buffer = allocator.buffer(capacity: 512)
        }
        pending = nil
        encode(&buffer)
        hold(buffer, emit: emit)
    }

    mutating func writeBody(_ body: ByteBuffer, allocator: ByteBufferAllocator, emit: (ByteBuffer) -> Void) {
        guard body.readableBytes > 0 else { return }
        var body = body
        var buffer = pending ?? allocator.buffer(capacity: isChunked ? 16 : 0)
        pending = nil
        if isChunked { buffer.writeHTTPChunkHeader(size: body.readableBytes) }
        if body.readableBytes <= Self.coalesceLimit {
            buffer.writeBuffer(&body)
            if isChunked { buffer.writeStaticString("\r\n") }
            hold(buffer, emit: emit)
            return
        }
        if buffer.readableBytes > 0 { emit(buffer) }
        emit(body)
        if isChunked {
            var crlf = allocator.buffer(capacity: 2)
            crlf.writeStaticString("\r\n")
            pending = crlf
        }
    }

    /// Ends the message (the last chunk and trailers when chunked; trailers are dropped
    /// otherwise: there is nowhere to put them). Returns what is left to write, possibly empty.
    mutating func finish(trailers: HTTPHeaders?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = pending ?? allocator.buffer(capacity: isChunked ? 16 : 0)
        pending = nil
        if isChunked { buffer.writeHTTPLastChunk(trailers: trailers) }
        isChunked = false
        keep(buffer)
        return buffer
    }

    /// What is pending, to write before a flush.
    mutating func takePending() -> ByteBuffer? {
        guard let buffer = pending else { return nil }
        pending = nil
        keep(buffer)
        return buffer
    }

    /// Lets go of the storage kept for the next message (the connection went idle).
    mutating func releaseKept() {
        kept = nil
    }

    private mutating func keep(_ buffer: ByteBuffer) {
        // Not the shared empty storage of a zero-capacity buffer, nor a large one.
        if buffer.capacity >= 256, buffer.capacity <= Self.keptCapacity { kept = buffer }
    }

    private mutating func hold(_ buffer: ByteBuffer, emit: (ByteBuffer) -> Void) {
        if buffer.readableBytes >= Self.pendingLimit {
            emit(buffer)
        } else {
            pending = buffer
        }
    }
}

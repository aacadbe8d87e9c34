import NIOCore
import NIOHTTP1

/// The body (and optional trailers) queued for one outgoing HTTP/2 stream, read by nghttp2's data
/// provider as the peer's flow-control window allows.
///
/// Owned by the stream object that fills it and, from submission until the stream closes, by the
/// `NGHTTP2Session` (its `bodies` table), whose data-source pointer refers to it unretained. Its
/// size is bounded by the filler's backpressure: the stream reports "not writable" above
/// `HTTP2Limits.streamSendHighWater`, and the exchange stops feeding it.
final class NGHTTP2OutboundBody {
    /// Made on the first chunk: most requests have no body, and most bodies come in a chunk or
    /// two (NIO's default ring has 16 slots, each destroyed with it).
    private var chunks: CircularBuffer<ByteBuffer>?
    private(set) var queuedBytes = 0
    /// No more body will be appended.
    private(set) var ended = false
    /// Sent as a trailing HEADERS frame after the last DATA frame.
    private(set) var trailers: HTTPHeaders?
    /// nghttp2 was told "deferred" (nothing to read): resume the stream when data or the end arrives.
    var deferred = false

    init() {}

    func append(_ buffer: ByteBuffer) {
        guard !ended, buffer.readableBytes > 0 else { return }
        queuedBytes += buffer.readableBytes
        if chunks == nil { chunks = CircularBuffer(initialCapacity: 4) }
        chunks!.append(buffer)
    }

    func end(trailers: HTTPHeaders?) {
        guard !ended else { return }
        ended = true
        if let trailers, !trailers.isEmpty { self.trailers = trailers }
    }

    /// Copies up to `destination.count` queued bytes into `destination`; returns how many.
    func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < destination.count, var chunk = chunks?.first {
            let take = min(chunk.readableBytes, destination.count - written)
            chunk.withUnsafeReadableBytes { source in
                let target = UnsafeMutableRawBufferPointer(rebasing: destination[written..<(written + take)])
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<take]))
            }
            chunk.moveReaderIndex(forwardBy: take)
            written += take
            if chunk.readableBytes == 0 {
                chunks!.removeFirst()
            } else {
                chunks![chunks!.startIndex] = chunk
            }
        }
        queuedBytes -= written
        return written
    }

    /// Drops everything queued (the stream was reset).
    func discard() {
        chunks = nil
        queuedBytes = 0
        ended = true
        trailers = nil
    }
}

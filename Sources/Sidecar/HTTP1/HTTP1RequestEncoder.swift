import NIOCore
import NIOHTTP1

/// Encodes an upstream connection's requests. It takes the place of SwiftNIO's
/// `HTTPRequestEncoder` below the response decoder (which must still see each request head, to
/// know when a response to `HEAD` has no body).
///
/// The proxy frames requests itself (`content-length` from the caller, else `transfer-encoding:
/// chunked`), so this only writes bytes. A head is held until the body, the end or a flush
/// comes, and small body chunks are copied behind it: a request without a large body leaves as
/// one buffer (one `writev` entry) instead of three.
final class HTTP1RequestEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = ByteBuffer

    /// Body chunks up to this size are copied into the pending buffer rather than written
    /// separately.
    static let coalesceLimit = 2048
    /// The pending buffer is written out once it holds this much.
    static let pendingLimit = 16 * 1024

    private var isChunked = false
    private var pending: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            isChunked = Self.isChunked(head.headers)
            var buffer = pending ?? context.channel.allocator.buffer(capacity: 512)
            pending = nil
            buffer.writeHTTPRequestHead(head)
            hold(buffer, context: context, promise: promise)
        case .body(.byteBuffer(var body)):
            guard body.readableBytes > 0 else {
                writePending(context: context, promise: promise)
                return
            }
            var buffer = pending ?? context.channel.allocator.buffer(capacity: 16)
            pending = nil
            if isChunked { buffer.writeHTTPChunkHeader(size: body.readableBytes) }
            if body.readableBytes <= Self.coalesceLimit {
                buffer.writeBuffer(&body)
                if isChunked { buffer.writeStaticString("\r\n") }
                hold(buffer, context: context, promise: promise)
            } else {
                context.write(wrapOutboundOut(buffer), promise: nil)
                if isChunked {
                    context.write(wrapOutboundOut(body), promise: nil)
                    var crlf = context.channel.allocator.buffer(capacity: 2)
                    crlf.writeStaticString("\r\n")
                    hold(crlf, context: context, promise: promise)
                } else {
                    context.write(wrapOutboundOut(body), promise: promise)
                }
            }
        case .body(.fileRegion(let region)):
            // Never produced by the proxy (it forwards ByteBuffers); kept correct anyway.
            writePending(context: context, promise: nil)
            context.write(NIOAny(IOData.fileRegion(region)), promise: promise)
        case .end(let trailers):
            if isChunked {
                var buffer = pending ?? context.channel.allocator.buffer(capacity: 16)
                pending = nil
                buffer.writeHTTPLastChunk(trailers: trailers)
                context.write(wrapOutboundOut(buffer), promise: promise)
            } else {
                writePending(context: context, promise: promise)
            }
            isChunked = false
        }
    }

    func flush(context: ChannelHandlerContext) {
        writePending(context: context, promise: nil)
        context.flush()
    }

    /// Keeps `buffer` pending (a write with a promise, or a full buffer, goes out at once).
    private func hold(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if promise != nil || buffer.readableBytes >= Self.pendingLimit {
            context.write(wrapOutboundOut(buffer), promise: promise)
        } else {
            pending = buffer
        }
    }

    private func writePending(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if let buffer = pending {
            pending = nil
            context.write(wrapOutboundOut(buffer), promise: promise)
        } else if let promise {
            // An empty write keeps the promise in order behind the bytes already written.
            context.write(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        }
    }

    /// Whether the head frames its body as chunked (the proxy only ever sends a lone `chunked`).
    static func isChunked(_ headers: HTTPHeaders) -> Bool {
        for (name, value) in headers where name.utf8.count == 17 && name.equalsIgnoringASCIICase("transfer-encoding") {
            var chunked = false
            HTTP1RequestValidator.forEachListItem(value) { item in
                if item.equalsIgnoringASCIICase("chunked") { chunked = true }
            }
            if chunked { return true }
        }
        return false
    }
}

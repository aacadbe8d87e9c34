import NIOCore
import NIOHTTP1

/// A pooled HTTP/1.1 client connection to one endpoint; the last handler of its channel, right
/// above TLS (if any): it frames requests itself (`HTTP1MessageWriter`) and parses responses
/// itself (`HTTP1ResponseParser`), so request and response parts never travel the pipeline.
///
/// It serves one exchange at a time (no pipelining). When a response ends cleanly on a keep-alive
/// connection whose request was fully sent, it goes back to its `LoopEndpoint`'s idle list;
/// otherwise it closes. Lives on one event loop.
final class HTTP1UpstreamConnection: ChannelDuplexHandler, UpstreamStream {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case active(requestDone: Bool, responseStarted: Bool)
        case closed
    }

    /// The exchange being served. Strong (a weak load per response part costs a side-table
    /// access): every way an exchange ends on this connection — response end, failure, `cancel()`
    /// — clears it, which breaks the exchange ⇄ connection cycle.
    var delegate: UpstreamStreamDelegate?
    /// The pool this connection returns to. Unowned, not weak: the endpoint outlives its open
    /// connections (its cluster keeps a removed endpoint in `draining` at least until the last one
    /// has closed, and the close callback reaches it unowned too), and a weak reference would give every
    /// endpoint a side table, turning each retain and release of it (several per request) into
    /// the runtime's slow path.
    private unowned let owner: LoopEndpoint
    private var onClose: ((HTTP1UpstreamConnection) -> Void)?
    private var context: ChannelHandlerContext?
    /// The channel's allocator, read once (`channel.allocator` is a protocol call, a thread check
    /// and a retain each time).
    private var allocator = ByteBufferAllocator()
    private var state: State = .idle
    private var keepAlive = true
    private var responseReadingPaused = false
    private var pendingRead = false
    private(set) var idleSince: NIODeadline = .now()
    private var writer = HTTP1MessageWriter()
    private var parser = HTTP1ResponseParser()
    private var requestIsHEAD = false
    /// Bytes of a response head (or chunk-size line) that has not fully arrived.
    private var partialInput: ByteBuffer?

    init(owner: LoopEndpoint, onClose: @escaping (HTTP1UpstreamConnection) -> Void) {
        self.owner = owner
        self.onClose = onClose
    }

    var isReusable: Bool {
        if case .idle = state, keepAlive, context != nil, channelIsActive { return true }
        return false
    }

    /// The channel's writability as of its last `channelWritabilityChanged`: the exchange asks per
    /// message, and asking the channel costs a dozen retains and releases. NIO fires the event
    /// within the write that goes over the high watermark; going back under the low one, it fires
    /// it after the write loop, so a write's completion callback could still see `false` (nothing
    /// asks from one).
    private var channelWritable = true
    var isWritable: Bool { context != nil && channelWritable }
    /// Whether the channel is active, from its events (the pool asks per request).
    private var channelIsActive = false
    /// Whether the buffers kept for the next request went since the connection was last used.
    private var idleBuffersReleased = false

    // MARK: Pool side

    /// Starts an exchange on this (idle) connection.
    func begin(delegate: UpstreamStreamDelegate) {
        if let context { resumeReading(context: context) }
        self.delegate = delegate
        state = .active(requestDone: false, responseStarted: false)
        idleBuffersReleased = false
    }

    /// Idle in the pool for a sweep period: the buffers kept for the next request go.
    func releaseIdleBuffers() {
        guard case .idle = state, !idleBuffersReleased, let context else { return }
        idleBuffersReleased = true
        writer.releaseKept()
        context.triggerUserOutboundEvent(ConnectionIdleEvent(), promise: nil)
    }

    /// A connection opened for an attempt that was abandoned before using it: pool it unused.
    func releaseUnused() {
        guard case .idle = state, owner.isMember, context != nil, channelIsActive else {
            close()
            return
        }
        idleSince = .now()
        owner.idleConnections.append(self)
    }

    func close() {
        guard let context else { return }
        if case .closed = state { return }
        context.close(promise: nil)
    }

    // MARK: UpstreamStream

    func sendRequestHead(_ head: ProxyRequestHead, hasBody: Bool) {
        guard let context else { return }
        // A body of unknown length goes chunked (the line is written with the head: the exchange
        // keeps its head for retries, and editing it here would copy its bytes).
        let chunked = hasBody && !head.fields.contains(lowercaseName: "content-length")
        requestIsHEAD = head.method.isHEAD
        parser.expectResponse(toHEAD: requestIsHEAD)
        writer.writeHead(chunked: chunked, allocator: allocator, encode: { $0.writeHTTPRequestHead(head, chunked: chunked) }) {
            context.write(wrapOutboundOut($0), promise: nil)
        }
    }

    func sendRequestBody(_ buffer: ByteBuffer) {
        guard let context else { return }
        writer.writeBody(buffer, allocator: allocator) { context.write(wrapOutboundOut($0), promise: nil) }
    }

    func flush() {
        guard let context else { return }
        if let pending = writer.takePending() { context.write(wrapOutboundOut(pending), promise: nil) }
        context.flush()
    }

    func sendRequestEnd(_ trailers: HTTPHeaders?) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(writer.finish(trailers: trailers, allocator: allocator)), promise: nil)
        if case .active(_, let responseStarted) = state {
            state = .active(requestDone: true, responseStarted: responseStarted)
        }
    }

    func setResponseReadingPaused(_ paused: Bool) {
        responseReadingPaused = paused
        if !paused, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func cancel() {
        delegate = nil
        keepAlive = false
        close()
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        channelWritable = context.channel.isWritable
        channelIsActive = context.channel.isActive
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        reportClosed()
    }

    /// Tells the pool this connection is gone; idempotent, so every path that ends a connection
    /// (close, removal, a failed connect or handshake) may call it.
    func reportClosed() {
        state = .closed
        if let onClose {
            self.onClose = nil
            onClose(self)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .active = state else {
            // Bytes on an idle connection: the server is confused; never reuse it.
            keepAlive = false
            context.close(promise: nil)
            return
        }
        var input = unwrapInboundIn(data)
        if var partial = partialInput {
            // Rare: a head split across reads. Only the unparsed bytes are kept.
            partialInput = nil
            partial.writeBuffer(&input)
            input = partial
        }
        do {
            while case .active = state, let event = try parser.next(&input) {
                handle(event, moreInput: input.readableBytes > 0, context: context)
            }
        } catch {
            partialInput = nil
            fail(.protocolError)
            context.close(promise: nil)
            return
        }
        guard input.readableBytes > 0 else { return }
        if case .active = state {
            partialInput = input
        } else {
            // Bytes after the end of the response: the server is confused; never reuse it.
            keepAlive = false
            context.close(promise: nil)
        }
    }

    /// `moreInput`: bytes follow this event in what was read (after a response's end they mean
    /// the server is confused: the connection is not reused).
    /// The event is handed down as an owned value: the head reaches the downstream without a copy.
    private func handle(_ event: consuming HTTP1ResponseParser.Event, moreInput: Bool, context: ChannelHandlerContext) {
        guard case .active(let requestDone, let responseStarted) = state else { return }
        switch consume event {
        case .head(let head, let keepAlive):
            self.keepAlive = keepAlive
            state = .active(requestDone: requestDone, responseStarted: true)
            delegate?.upstreamResponseHead(head)
        case .body(let buffer):
            delegate?.upstreamResponseBody(buffer)
        case .end(let trailers):
            let delegate = self.delegate
            self.delegate = nil
            // Not after HEAD: a server that (wrongly) sends a body later would have it read as
            // the next request's response.
            let reusable = keepAlive && requestDone && responseStarted && !moreInput && !requestIsHEAD
            // A slow downstream may have paused reading this response: an idle connection reads
            // again (to notice the server closing it), and the next exchange starts unpaused.
            resumeReading(context: context)
            if reusable, owner.isMember {
                state = .idle
                idleSince = .now()
                owner.idleConnections.append(self)
            } else {
                state = .idle
                keepAlive = false
                context.close(promise: nil)
            }
            delegate?.upstreamResponseEnd(trailers)
        }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        responseReadingPaused = false
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if responseReadingPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        channelWritable = context.channel.isWritable
        delegate?.upstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let failure: UpstreamFailure
        if case .active(_, let started) = state {
            failure = .reset(responseStarted: started)
        } else {
            failure = .reset(responseStarted: false)
        }
        fail(failure)
        context.close(promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        channelIsActive = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        channelIsActive = false
        if case .active = state {
            // A response without a length ends when the server closes the connection.
            if let end = try? parser.inputEnded() { handle(end, moreInput: false, context: context) }
        }
        if case .active(_, let started) = state {
            fail(.reset(responseStarted: started))
        }
        reportClosed()
        context.fireChannelInactive()
    }

    private func fail(_ failure: UpstreamFailure) {
        keepAlive = false
        let delegate = self.delegate
        self.delegate = nil
        if case .active = state { state = .idle }
        delegate?.upstreamFailed(failure)
    }
}

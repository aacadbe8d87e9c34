import NIOCore
import NIOHTTP1

/// Serves one downstream HTTP/1.1 connection: parses its requests (`HTTP1RequestParser`, straight
/// from the connection's bytes), hands each to a `ProxyExchange` and writes its response with
/// HTTP/1.1 framing and keep-alive. It is the only handler above TLS (if any). Applies
/// backpressure by holding `read` while paused, enforces the listener's idle timeout, answers
/// malformed requests with 400 and closes.
///
/// Pipelined requests (bytes of a new request arriving while the previous response is still
/// being written) stay unparsed, with reading paused, until that response ends; then parsing
/// goes on. Reads are never withheld otherwise: NIO's `HTTPServerPipelineHandler` withholds one
/// per request, which costs two `epoll_ctl` calls per request.
final class HTTP1DownstreamHandler: ChannelDuplexHandler, DownstreamStream {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    /// Responses are encoded here (`HTTP1Encoding`): no encoder handler, no `NIOAny` boxing of
    /// response parts, and a small response leaves as one buffer.
    typealias OutboundOut = ByteBuffer

    private let worker: WorkerContext
    private let listener: ListenerContext
    private let connections: ConnectionTracker
    /// The verified caller, when the connection is mutual TLS.
    var peer: DownstreamPeer?

    private var context: ChannelHandlerContext?
    /// The channel's allocator, read once (`channel.allocator` is a protocol call, a thread check
    /// and a retain each time).
    private var allocator = ByteBufferAllocator()
    private var exchange: ProxyExchange?
    private var requestsServed = 0
    /// Keep the connection open after the current response?
    private var keepAlive = true
    private var requestMethod: HTTPMethod = .GET
    private var requestVersion: HTTPVersion = .http1_1
    /// Discarding the rest of a request whose answer was already sent (the connection closes after).
    private var discardingRequest = false
    private var readingPaused = false
    /// Reading paused because a pipelined request waits, unparsed, in `input`.
    private var pausedForPipelining = false
    private var pendingRead = false
    private var parser: HTTP1RequestParser
    /// Bytes read but not parsed yet: part of a head, or a pipelined request.
    private var input: ByteBuffer?
    /// A request was malformed: nothing more is read from this connection.
    private var inputRejected = false
    /// Frames the responses; holds a small response's pieces back so it leaves as one buffer.
    private var writer = HTTP1MessageWriter()
    /// Whether the current response may have a body (not for HEAD, 1xx, 204, 304).
    private var responseBodyAllowed = true
    /// Whether the current request's response head was written (a 400 can no longer be sent).
    private var responseHeadSent = false
    /// When the idle check last saw the connection busy. Reads and responses only set
    /// `sawActivity`: the clock is read by the check, once a period, not several times a request
    /// (a clock read is ~20 ns here, and the idle limit is only kept to within a period anyway).
    private var lastActivity = NIODeadline.now()
    private var sawActivity = false
    /// Whether this quiet spell's `ConnectionIdleEvent` went down the pipeline.
    private var releasedIdleBuffers = false
    private var idleTask: RepeatedTask?
    /// What the idle task reaches this handler through; held only here.
    private var idleCheckTarget: RepeatedTaskTarget<HTTP1DownstreamHandler>?
    private var closing = false

    init(worker: WorkerContext, listener: ListenerContext, connections: ConnectionTracker) {
        self.worker = worker
        self.listener = listener
        self.connections = connections
        self.parser = HTTP1RequestParser(
            maxHeaderBytes: listener.limits.maxHeaderBytes,
            maxHeaderCount: listener.limits.maxHeaderCount,
            maxUriBytes: listener.limits.maxUriBytes
        )
    }

    var eventLoop: EventLoop { worker.eventLoop }
    /// The connection's addresses, read once (on the first sampled request) for trace attributes.
    private var addresses: (local: SocketAddress?, remote: SocketAddress?)?
    var localAddress: SocketAddress? { connectionAddresses().local }
    var remoteAddress: SocketAddress? { connectionAddresses().remote }

    private func connectionAddresses() -> (local: SocketAddress?, remote: SocketAddress?) {
        if let addresses { return addresses }
        let channel = context?.channel
        let result = (local: channel?.localAddress, remote: channel?.remoteAddress)
        if channel != nil { addresses = result }
        return result
    }
    /// The channel's writability as of its last `channelWritabilityChanged`: the exchange asks per
    /// message, and asking the channel costs a dozen retains and releases. NIO fires the event
    /// within the write that goes over the high watermark; going back under the low one, it fires
    /// it after the write loop, so a write's completion callback could still see `false` (nothing
    /// asks from one).
    private var channelWritable = true
    var isWritable: Bool { context != nil && channelWritable }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        channelWritable = context.channel.isWritable
        connections.opened(self, channel: context.channel, direction: listener.direction)
        let idle = listener.timeouts.idle
        if idle > .zero {
            let period = max(TimeAmount.milliseconds(100), TimeAmount.nanoseconds(idle.nanoseconds / 4))
            // Through a weakly held stand-in, not this handler (see `RepeatedTaskTarget`).
            let target = RepeatedTaskTarget(self)
            idleCheckTarget = target
            idleTask = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [weak target] _ in
                target?.owner.checkIdle(limit: idle)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTask?.cancel()
        connections.closed(self)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        sawActivity = true
        if closing || inputRejected { return }
        var bytes = unwrapInboundIn(data)
        if var held = input {
            // Rare: a head split across reads, or a pipelined request behind a busy exchange.
            // What was parsed is dropped first: otherwise a caller whose every read ends
            // mid-line would make this buffer keep everything the connection ever read.
            input = nil
            held.discardReadBytes()
            held.writeBuffer(&bytes)
            bytes = held
        }
        parse(&bytes, context: context)
    }

    /// Parses and handles what `bytes` holds, up to a pipelined request (which waits for the
    /// current exchange to finish); keeps what is left in `input`.
    private func parse(_ bytes: inout ByteBuffer, context: ChannelHandlerContext) {
        do {
            while !closing, !inputRejected {
                if exchange != nil, parser.isBetweenRequests {
                    // Pipelined: the previous response is still being written.
                    if bytes.readableBytes > 0 { pausedForPipelining = true }
                    break
                }
                guard let event = try parser.next(&bytes) else { break }
                handle(event, context: context)
            }
        } catch {
            malformedInput(context: context)
            return
        }
        if bytes.readableBytes > 0, !closing, !inputRejected { input = bytes }
    }

    /// Events and heads are handed down as owned values (`consuming`), so the exchange is the only
    /// owner of the head's header list when it edits it: no copy of the list per request.
    private func handle(_ event: consuming HTTP1RequestParser.Event, context: ChannelHandlerContext) {
        switch consume event {
        case .head(let head):
            receiveHead(head, context: context)
        case .body(let buffer):
            if discardingRequest { return }
            exchange?.receiveBody(buffer)
        case .end(let trailers):
            if discardingRequest {
                discardingRequest = false
                return
            }
            exchange?.receiveEnd(trailers)
        }
    }

    private func receiveHead(_ head: consuming ProxyRequestHead, context: ChannelHandlerContext) {
        requestMethod = head.method
        requestVersion = head.version
        keepAlive = head.isKeepAlive
        discardingRequest = false
        responseHeadSent = false
        let verdict: HTTP1RequestValidator.Verdict
        switch HTTP1RequestValidator.validate(head, maxUriBytes: listener.limits.maxUriBytes) {
        case .success(let value):
            verdict = value
        case .failure:
            respondToMalformedRequest(head: head)
            return
        }
        let framing = verdict.framing
        parser.startBody(framing)
        if let length = verdict.contentLengthToRewrite {
            head.fields.replaceOrAdd(name: "content-length", value: String(length))
        }
        if worker.drain.isDraining, requestsServed > 0 {
            keepAlive = false
            answerLocally(head: head, framing: framing, flag: .draining)
            return
        }
        if !listener.allow.isEmpty, peer?.isAllowed != true {
            worker.metrics.authorizationDenied(listener: listener.index)
            answerLocally(head: head, framing: framing, flag: .forbidden)
            return
        }
        requestsServed += 1
        if verdict.expectsContinue {
            var interim = allocator.buffer(capacity: 32)
            interim.writeHTTPResponseHead(ProxyResponseHead(status: .continue), version: head.version)
            context.writeAndFlush(wrapOutboundOut(interim), promise: nil)
        }
        let exchange = ProxyExchange(
            head: head,
            requestHasBody: framing != .none,
            downstream: self,
            worker: worker,
            listener: listener,
            peer: peer
        )
        self.exchange = exchange
        exchange.start()
    }

    /// Answers this request from the sidecar without proxying it. A body that follows is read
    /// and discarded (the connection stays usable when the body is well-formed).
    private func answerLocally(head: ProxyRequestHead, framing: HTTP1RequestValidator.BodyFraming, flag: ProxyErrorFlag) {
        discardingRequest = framing != .none
        let exchange = ProxyExchange(head: head, requestHasBody: framing != .none, downstream: self, worker: worker, listener: listener, peer: peer)
        self.exchange = exchange
        exchange.respondLocally(flag)
    }

    /// A head that parses but must not be proxied: answered 400, and the connection closes.
    private func respondToMalformedRequest(head: ProxyRequestHead) {
        keepAlive = false
        discardingRequest = true
        inputRejected = true
        input = nil
        let exchange = ProxyExchange(head: head, requestHasBody: false, downstream: self, worker: worker, listener: listener, peer: peer)
        self.exchange = exchange
        exchange.respondLocally(.downstreamProtocolError)
    }

    private func writeResponseAndClose(_ response: LocalResponse) {
        guard let context, !closing else { return }
        closing = true
        var head = response.head
        head.fields.remove(name: "connection")
        var body = response.body
        var output = allocator.buffer(capacity: 256 + body.readableBytes)
        output.writeHTTPResponseHead(head, connection: "close")
        output.writeBuffer(&body)
        context.writeAndFlush(wrapOutboundOut(output)).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Bytes that are not a valid request: answer 400 unless a response is already on its way,
    /// then close. Nothing more is read.
    private func malformedInput(context: ChannelHandlerContext) {
        inputRejected = true
        input = nil
        keepAlive = false
        if discardingRequest, exchange == nil || responseHeadSent {
            // The body of a request already answered: no second answer, just close.
            closing = true
            context.close(promise: nil)
            return
        }
        if let exchange {
            if !responseHeadSent {
                // A malformed body (e.g. a bad chunk size): abandon the upstream attempt, answer 400.
                discardingRequest = true
                exchange.respondLocally(.downstreamProtocolError)
            } else {
                exchange.downstreamClosed()
                context.close(promise: nil)
            }
        } else {
            writeResponseAndClose(LocalResponse(flag: .downstreamProtocolError, grpc: false, requestID: nil))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Pipelined requests of a caller that has gone are never started.
        closing = true
        input = nil
        exchange?.downstreamClosed()
        exchange = nil
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if readingPaused || pausedForPipelining {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        channelWritable = context.channel.isWritable
        exchange?.downstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Drain: an idle connection closes now; a busy one after its response.
            keepAlive = false
            if exchange == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func checkIdle(limit: TimeAmount) {
        let now = NIODeadline.now()
        if sawActivity {
            sawActivity = false
            lastActivity = now
            releasedIdleBuffers = false
            return
        }
        guard exchange == nil, let context else { return }
        if now - lastActivity >= limit {
            context.close(promise: nil)
        } else if !releasedIdleBuffers {
            // Quiet for a whole period: the buffers kept for the next message go.
            releasedIdleBuffers = true
            writer.releaseKept()
            context.triggerUserOutboundEvent(ConnectionIdleEvent(), promise: nil)
        }
    }

    // MARK: DownstreamStream

    func sendResponseHead(_ head: consuming ProxyResponseHead) {
        guard let context else { return }
        sawActivity = true
        responseHeadSent = true
        let version: HTTPVersion = requestVersion.minor == 0 ? .http1_0 : .http1_1
        let bodyAllowed = !requestMethod.isHEAD && head.status.code >= 200 && head.status.code != 204 && head.status.code != 304
        responseBodyAllowed = bodyAllowed
        var chunked = false
        if bodyAllowed, !head.fields.contains(lowercaseName: "content-length") {
            if requestVersion.minor >= 1 {
                chunked = true  // `transfer-encoding: chunked` is written with the head
            } else {
                keepAlive = false  // HTTP/1.0: the body ends when the connection closes
            }
        }
        if worker.drain.isDraining || exchange?.isRequestComplete == false && !discardingRequest {
            // Draining, or answered before the whole request arrived: this connection ends here.
            keepAlive = false
        }
        // The framing fields are this connection's: any the head carries make way (the exchange
        // already stripped an upstream's hop-by-hop fields, so this is rarely more than a scan).
        if chunked, head.fields.contains(lowercaseName: "transfer-encoding") { head.fields.remove(name: "transfer-encoding") }
        let connection: StaticString? = !keepAlive ? "close" : requestVersion.minor == 0 ? "keep-alive" : nil
        if connection != nil, head.fields.contains(lowercaseName: "connection") { head.fields.remove(name: "connection") }
        writer.writeHead(
            chunked: chunked,
            allocator: allocator,
            encode: { $0.writeHTTPResponseHead(head, version: version, chunked: chunked, connection: connection) }
        ) {
            context.write(wrapOutboundOut($0), promise: nil)
        }
    }

    func sendResponseBody(_ buffer: ByteBuffer) {
        // A response to HEAD (or a 204/304) has no body on the wire, whatever the exchange has
        // (e.g. the text of a sidecar-made 503): writing it would desynchronise the connection.
        guard let context, responseBodyAllowed else { return }
        writer.writeBody(buffer, allocator: allocator) { context.write(wrapOutboundOut($0), promise: nil) }
    }

    func flush() {
        guard let context else { return }
        if let pending = writer.takePending() { context.write(wrapOutboundOut(pending), promise: nil) }
        context.flush()
    }

    func sendResponseEnd(_ trailers: HTTPHeaders?) {
        guard let context else { return }
        sawActivity = true
        let output = writer.finish(trailers: trailers, allocator: allocator)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(output), promise: nil)
        } else {
            closing = true
            context.writeAndFlush(wrapOutboundOut(output)).whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    func setRequestReadingPaused(_ paused: Bool) {
        readingPaused = paused
        if !paused, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func abort() {
        keepAlive = false
        closing = true
        context?.close(promise: nil)
    }

    func exchangeDidFinish(_ exchange: ProxyExchange) {
        guard self.exchange === exchange else { return }
        self.exchange = nil
        if readingPaused { setRequestReadingPaused(false) }
        if pausedForPipelining, let context {
            // Parse the pipelined request after the finishing exchange has unwound, not inside
            // its call stack.
            context.eventLoop.execute { [self] in self.resumePipelined() }
        }
    }

    private func resumePipelined() {
        guard let context, !closing, context.channel.isActive else {
            input = nil
            return
        }
        pausedForPipelining = false
        if var bytes = input {
            input = nil
            parse(&bytes, context: context)
        }
        if !pausedForPipelining, pendingRead, !readingPaused {
            pendingRead = false
            context.read()
        }
    }
}

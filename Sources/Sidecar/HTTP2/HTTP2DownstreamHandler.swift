import NIOCore
import NIOHTTP1

/// Serves one downstream HTTP/2 connection (h2 over TLS by ALPN, or h2c by prior knowledge): feeds
/// the bytes to an nghttp2 server session, maps each request stream to an `HTTP2DownstreamStream`
/// and a `ProxyExchange` (as `HTTP1DownstreamHandler` does per request), and writes nghttp2's
/// output once per flush cycle. Protects itself against floods (rapid reset, empty DATA; PING and
/// SETTINGS acks and CONTINUATION bounded by nghttp2 options): an offender gets GOAWAY
/// ENHANCE_YOUR_CALM and loses this connection only. Drains with a graceful GOAWAY, then a final one.
final class HTTP2DownstreamHandler: ChannelDuplexHandler, NGHTTP2SessionDelegate, EndOfTurnFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private let worker: WorkerContext
    private let listener: ListenerContext
    private let connections: ConnectionTracker
    private let peer: DownstreamPeer?
    private var session: NGHTTP2Session?
    private var context: ChannelHandlerContext?
    private var streams = HTTP2StreamTable<HTTP2DownstreamStream>()
    /// The header list of the response being submitted, refilled for each (keeps its capacity).
    private var outgoingFields = HTTP2FieldList()
    /// Streams that reported "not writable" to their exchange and wait for room.
    private var blockedStreams: [HTTP2DownstreamStream] = []
    private var floodGuard = HTTP2FloodGuard()
    private var flushing = false
    private var needsFlush = false
    private var closing = false
    private var draining = false
    private var lastActivity = NIODeadline.now()
    private var idleTask: RepeatedTask?
    private var idleCheckTarget: RepeatedTaskTarget<HTTP2DownstreamHandler>?
    private var drainTarget: RepeatedTaskTarget<HTTP2DownstreamHandler>?

    init(worker: WorkerContext, listener: ListenerContext, connections: ConnectionTracker, peerIdentity: String?, peerIsSidecar: Bool = false) {
        self.worker = worker
        self.listener = listener
        self.connections = connections
        self.peer = peerIdentity.map { DownstreamPeer(identity: $0, listener: listener, isSidecar: peerIsSidecar) }
    }

    var eventLoop: EventLoop { worker.eventLoop }
    var isChannelWritable: Bool { context != nil && channelWritable }
    /// The channel's writability as of its last `channelWritabilityChanged`, and its allocator:
    /// read per stream and per flush, where asking the channel costs a retain and release of it.
    private var channelWritable = true
    private var allocator = ByteBufferAllocator()
    /// The connection's addresses (trace attributes of sampled requests).
    var channelLocalAddress: SocketAddress? { context?.channel.localAddress }
    var channelRemoteAddress: SocketAddress? { context?.channel.remoteAddress }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channelWritable = context.channel.isWritable
        allocator = context.channel.allocator
        connections.opened(self, channel: context.channel, direction: listener.direction)
        var settings = NGHTTP2Session.Settings()
        settings.maxHeaderListSize = listener.limits.maxHeaderBytes
        settings.maxHeaderCount = listener.limits.maxHeaderCount
        do {
            let session = try NGHTTP2Session(role: .server, settings: settings)
            session.delegate = self
            self.session = session
        } catch {
            worker.logger.warning("cannot create HTTP/2 session", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
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
        if worker.drain.isDraining { startDrain() }
        flush()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTask?.cancel()
        connections.closed(self)
        closeAllStreams()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session, !closing else { return }
        lastActivity = .now()
        let buffer = unwrapInboundIn(data)
        do {
            try session.receive(buffer)
        } catch {
            worker.logger.debug("HTTP/2 downstream protocol error", metadata: ["listener": "\(listener.name)", "error": "\(error)"])
            closing = true
            flush()
            return
        }
        flush()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        channelWritable = context.channel.isWritable
        if channelWritable {
            flush()
        } else {
            for stream in streams where stream.reportedWritable && stream.exchange != nil {
                stream.reportedWritable = false
                blockedStreams.append(stream)
                stream.exchange?.downstreamWritabilityChanged()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeAllStreams()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closeAllStreams()
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            startDrain()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Flushing

    /// Streams' output (heads, body, window updates, resets) is written at the end of this
    /// event-loop turn, not per submit.
    private func scheduleFlush() {
        guard let context else { return }
        endOfTurn.request(for: self, on: context.eventLoop)
    }
    private let endOfTurn = EndOfTurnFlush()

    func flushAtEndOfTurn() {
        flush()
    }

    deinit {
        endOfTurn.ownerIsGone()
    }

    /// Writes what nghttp2 has to send, once per cycle; deferred while nghttp2 itself runs.
    func flush() {
        guard let session, let context else { return }
        if session.isBusy || flushing {
            needsFlush = true
            return
        }
        flushing = true
        defer { flushing = false }
        repeat {
            needsFlush = false
            let output = session.writeOutput(
                allocator: allocator,
                canWrite: { channelWritable || closing },
                write: { context.write(wrapOutboundOut($0), promise: nil) }
            )
            if output.failed { closing = true }
            if output.wrote { context.flush() }
            notifyWritable()
        } while needsFlush
        if closing || (draining && streams.isEmpty) || !session.wantsReadOrWrite {
            closeAfterFlush()
        }
    }

    /// Tells exchanges whose streams have room again.
    private func notifyWritable() {
        guard !blockedStreams.isEmpty else { return }
        let waiting = blockedStreams
        blockedStreams.removeAll()
        for stream in waiting {
            if stream.isWritable {
                stream.reportedWritable = true
                stream.exchange?.downstreamWritabilityChanged()
            } else if !stream.closed {
                blockedStreams.append(stream)
            }
        }
    }

    private func closeAfterFlush() {
        guard let context, !closingChannel else { return }
        closingChannel = true
        closing = true
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            context.close(promise: nil)
        }
    }
    private var closingChannel = false

    // MARK: Called by streams

    func submitResponse(_ stream: HTTP2DownstreamStream, head: ProxyResponseHead, body: NGHTTP2OutboundBody?) {
        guard let session else { return }
        HTTP2HeaderTranslation.responseFields(from: head, into: &outgoingFields)
        let submitted = session.submitResponse(streamID: stream.streamID, headers: outgoingFields, body: body)
        outgoingFields.removeAll()  // nghttp2 copied it; a large list's storage goes now
        if !submitted {
            session.resetStream(stream.streamID, errorCode: .internalError)
        }
        scheduleFlush()
    }

    func bodyQueued(_ stream: HTTP2DownstreamStream) {
        session?.resumeData(streamID: stream.streamID, body: stream.responseBody)
        if stream.reportedWritable, !stream.isWritable {
            stream.reportedWritable = false
            blockedStreams.append(stream)
        }
        scheduleFlush()
    }

    func consume(streamID: Int32, bytes: Int) {
        session?.consume(streamID: streamID, bytes: bytes)
        scheduleFlush()
    }

    func reset(_ stream: HTTP2DownstreamStream, errorCode: HTTP2ErrorCode) {
        session?.resetStream(stream.streamID, errorCode: errorCode)
        scheduleFlush()
    }

    // MARK: NGHTTP2SessionDelegate

    func sessionReceivedHeaders(_ block: consuming HTTP2HeaderBlock, streamID: Int32, endStream: Bool) {
        if let stream = streams[streamID] {
            // Trailers.
            guard !stream.requestComplete else { return }
            stream.requestComplete = true
            switch HTTP2HeaderTranslation.trailers(from: block) {
            case .success(let trailers):
                stream.exchange?.receiveEnd(trailers)
            case .failure:
                session?.resetStream(streamID, errorCode: .protocolError)
            }
            return
        }
        guard !closing else { return }
        let stream = HTTP2DownstreamStream(streamID: streamID, connection: self)
        stream.requestComplete = endStream
        streams[streamID] = stream
        let head: ProxyRequestHead
        switch HTTP2HeaderTranslation.requestHead(from: block) {
        case .success(let value):
            head = value
        case .failure(let problem):
            guard problem == .tooLarge, let pseudoHead = minimalHead() else {
                session?.resetStream(streamID, errorCode: .protocolError)
                return
            }
            answerLocally(stream, head: pseudoHead, flag: .downstreamProtocolError)
            return
        }
        stream.requestMethod = head.method
        if !listener.allow.isEmpty, peer?.isAllowed != true {
            worker.metrics.authorizationDenied(listener: listener.index)
            answerLocally(stream, head: head, flag: .forbidden)
            return
        }
        let exchange = ProxyExchange(
            head: head,
            requestHasBody: !endStream,
            downstream: stream,
            worker: worker,
            listener: listener,
            peer: peer
        )
        stream.exchange = exchange
        exchange.start()
    }

    /// A head for answering a request whose header block was dropped (too large): enough to say
    /// whether the caller speaks gRPC is not kept, so the answer is plain HTTP.
    private func minimalHead() -> ProxyRequestHead? {
        ProxyRequestHead(version: HTTPVersion(major: 2, minor: 0), method: .GET, uri: "/")
    }

    private func answerLocally(_ stream: HTTP2DownstreamStream, head: ProxyRequestHead, flag: ProxyErrorFlag) {
        let exchange = ProxyExchange(head: head, requestHasBody: false, downstream: stream, worker: worker, listener: listener, peer: peer)
        stream.exchange = exchange
        exchange.respondLocally(flag)
    }

    func sessionReceivedData(_ bytes: UnsafeRawBufferPointer, streamID: Int32) {
        guard context != nil else { return }
        guard let stream = streams[streamID] else {
            session?.consume(streamID: streamID, bytes: bytes.count)
            return
        }
        stream.receivedData(allocator.buffer(bytes: bytes))
    }

    func sessionReceivedEndOfStream(streamID: Int32) {
        guard let stream = streams[streamID], !stream.requestComplete else { return }
        stream.requestComplete = true
        stream.exchange?.receiveEnd(nil)
    }

    func sessionReceivedEmptyData(streamID: Int32) {
        if floodGuard.recordEmptyData() != .ok { enhanceYourCalm(reason: "empty_data") }
    }

    func sessionReceivedReset(streamID: Int32, errorCode: UInt32) {
        if floodGuard.recordReset(nowNanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) != .ok {
            enhanceYourCalm(reason: "rapid_reset")
        }
    }

    func sessionReceivedGoAway(lastStreamID: Int32, errorCode: UInt32) {
        // The client is leaving: answer what it sent, then close when the streams are done.
        draining = true
    }

    func sessionReceivedSettings() {}

    func sessionStreamClosed(streamID: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        stream.closed = true
        session?.consumeConnection(bytes: stream.takeUnconsumedBytes())
        if let exchange = stream.exchange {
            stream.exchange = nil
            exchange.downstreamClosed()
        }
        if draining, streams.isEmpty { needsFlush = true }
    }

    func sessionHeadersNotSent(streamID: Int32) {}

    // MARK: Protection, drain, idle

    private func enhanceYourCalm(reason: String) {
        guard !closing else { return }
        worker.logger.info("HTTP/2 flood: closing connection", metadata: ["listener": "\(listener.name)", "reason": "\(reason)"])
        worker.metrics.recordHTTP2Flood(listener: listener.index, reason: reason)
        session?.submitGoAway(errorCode: .enhanceYourCalm)
        closing = true
        needsFlush = true
    }

    private func startDrain() {
        guard !draining, let session, let context else { return }
        draining = true
        session.submitShutdownNotice()
        flush()
        // Through a weakly held stand-in, not this handler (see `RepeatedTaskTarget`).
        let target = RepeatedTaskTarget(self)
        drainTarget = target
        context.eventLoop.scheduleTask(in: .milliseconds(HTTP2Limits.drainGoAwayDelayMilliseconds)) { [weak target] in
            guard let handler = target?.owner, let session = handler.session, !handler.closing else { return }
            session.submitGoAway(errorCode: .noError)
            handler.flush()
        }
    }

    private func checkIdle(limit: TimeAmount) {
        guard streams.isEmpty, context != nil, !closing else { return }
        if NIODeadline.now() - lastActivity >= limit {
            session?.submitGoAway(errorCode: .noError)
            closing = true
            flush()
        }
    }

    private func closeAllStreams() {
        let open = streams
        streams.removeAll()
        blockedStreams.removeAll()
        for stream in open {
            stream.closed = true
            if let exchange = stream.exchange {
                stream.exchange = nil
                exchange.downstreamClosed()
            }
        }
    }
}

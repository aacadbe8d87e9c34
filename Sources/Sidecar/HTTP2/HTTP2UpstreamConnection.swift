import NIOCore
import NIOHTTP1

/// A multiplexed HTTP/2 client connection to one endpoint (h2 over mutual TLS, or h2c), shared by
/// the exchanges of one event loop: each gets an `HTTP2UpstreamStream`. The last handler of its
/// channel; owns an nghttp2 client session.
///
/// Listed in its `LoopEndpoint` from the moment it starts connecting: streams opened before the
/// connection is up are queued in nghttp2 and go out once `activate()` is called (after TCP and,
/// for mTLS, the handshake). The pool picks a connection while it has a free stream slot under
/// the server's SETTINGS_MAX_CONCURRENT_STREAMS and it has not received GOAWAY.
final class HTTP2UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler, NGHTTP2SessionDelegate, EndOfTurnFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private enum State {
        case connecting
        case ready
        /// GOAWAY received (or sent): no new streams; closes once the open ones are done.
        case goingAway
        case closed
    }

    let eventLoop: EventLoop
    /// The endpoint whose pool lists this connection; told whether the peer speaks HTTP/2.
    /// Unowned, not weak, for the reason given in `HTTP1UpstreamConnection.owner`.
    private unowned let owner: LoopEndpoint?
    private let scheme: String
    /// Over TLS (h2), not h2c.
    let isSecure: Bool
    /// The server's first SETTINGS arrived: it speaks HTTP/2.
    private var peerSpokeHTTP2 = false
    /// The server's first bytes were not a SETTINGS frame (e.g. an HTTP/1.x error page).
    private var peerNotHTTP2 = false
    private var receivedAnything = false
    private var onClose: ((HTTP2UpstreamConnection) -> Void)?
    private let session: NGHTTP2Session?
    private var context: ChannelHandlerContext?
    private var state: State = .connecting
    /// Streams by id (submitted requests).
    private var streams = HTTP2StreamTable<HTTP2UpstreamStream>()
    /// The header list of the request being submitted, refilled for each (keeps its capacity).
    private var outgoingFields = HTTP2FieldList()
    private var blockedStreams: [HTTP2UpstreamStream] = []
    /// Streams handed out and not yet closed (including ones whose head is not submitted yet).
    private(set) var activeStreams = 0
    private(set) var idleSince = NIODeadline.now()
    private var flushing = false
    private var needsFlush = false

    /// A `protocol: auto` connection: whether the endpoint speaks HTTP/2 is known only once the
    /// TLS handshake's ALPN pick is (`activate()` or `refuse(_:)`). Until then its streams are
    /// not writable, so their request bodies wait in their exchanges, within `maxBufferedBody`,
    /// and can still go over HTTP/1.1.
    private let negotiatesProtocol: Bool

    init(
        eventLoop: EventLoop, owner: LoopEndpoint?, secure: Bool, negotiatesProtocol: Bool = false,
        makeSession: () throws -> NGHTTP2Session = { try NGHTTP2Session(role: .client, settings: NGHTTP2Session.Settings()) },
        onClose: @escaping (HTTP2UpstreamConnection) -> Void
    ) {
        self.eventLoop = eventLoop
        self.negotiatesProtocol = negotiatesProtocol
        self.owner = owner
        self.scheme = secure ? "https" : "http"
        self.isSecure = secure
        self.onClose = onClose
        do {
            session = try makeSession()
        } catch {
            // nghttp2 could not allocate: the connection takes no streams, and its channel is
            // closed as soon as it is added (see `handlerAdded`), so neither the socket nor the
            // pool's connection slot is held by a connection that can never carry a request.
            session = nil
            state = .closed
        }
        session?.delegate = self
    }

    /// Whether a new stream may be opened here now.
    var hasCapacity: Bool {
        switch state {
        case .connecting:
            return activeStreams < HTTP2Limits.assumedPeerMaxConcurrentStreams
        case .ready:
            return activeStreams < max(1, session?.remoteMaxConcurrentStreams ?? 0) && context?.channel.isActive == true
        case .goingAway, .closed:
            return false
        }
    }

    var isIdle: Bool { activeStreams == 0 }
    var isWritable: Bool {
        switch state {
        case .connecting: return !negotiatesProtocol
        case .ready, .goingAway: return context != nil && channelWritable
        case .closed: return false
        }
    }

    // MARK: Pool side

    /// A new stream for one exchange (the caller checked `hasCapacity`).
    func makeStream(delegate: UpstreamStreamDelegate) -> HTTP2UpstreamStream {
        let stream = HTTP2UpstreamStream(connection: self)
        stream.delegate = delegate
        activeStreams += 1
        return stream
    }

    /// TCP (and TLS) is up: send the preface and everything queued.
    func activate() {
        guard case .connecting = state else { return }
        state = .ready
        flush()
        if negotiatesProtocol {
            // Its streams were not writable while the protocol was unknown: they are now.
            for stream in streams where !stream.finished {
                stream.reportedWritable = true
                stream.delegate?.upstreamWritabilityChanged()
            }
        }
    }

    /// The connection could not be established: every stream fails as a connect failure.
    func connectFailed(_ message: String) {
        closeAndFailAll(.connectFailed(message))
    }

    /// Connected, but the server picked another protocol than HTTP/2 by ALPN: closes without
    /// having sent anything, and every stream fails with `http2NotSpoken` (its exchange goes
    /// over HTTP/1.1 instead).
    func refuse(_ message: String) {
        let channelContext = context
        closeAndFailAll(.http2NotSpoken(message))
        channelContext?.close(promise: nil)
    }

    /// Connected, but the server picked HTTP/1.1 by ALPN: nothing was sent, so the channel goes to
    /// `successor` (placed in front of this handler, which then leaves the pipeline) together
    /// with this connection's place in the pool's accounting (`onClose` is not called: the
    /// successor reports its own close). `pooled` runs once the successor is in the pipeline and
    /// before the streams hear `http2NotSpoken`, so an exchange that falls back can take it.
    /// False, with nothing changed, when the channel is not there to hand over.
    func handOver(to successor: HTTP1UpstreamConnection, reason: String, pooled: () -> Void) -> Bool {
        guard let context, case .connecting = state else { return false }
        do {
            try context.pipeline.syncOperations.addHandler(successor, position: .before(self))
        } catch {
            return false
        }
        onClose = nil
        state = .closed
        pooled()
        failAll(.http2NotSpoken(reason))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        return true
    }

    /// Closed, and out of the pool, before the streams hear of it: an exchange that retries or
    /// falls back at once must not be handed a stream here again (which nothing would ever end),
    /// and must find the connection's circuit-breaker slot already given back.
    private func closeAndFailAll(_ failure: UpstreamFailure?) {
        state = .closed
        reportClosed()
        failAll(failure)
    }

    /// Ends the connection gracefully: GOAWAY now, close once idle (drain, idle timeout, endpoint removed).
    func close() {
        switch state {
        case .closed:
            return
        case .connecting:
            context?.close(promise: nil)
        case .ready, .goingAway:
            state = .goingAway
            session?.submitGoAway(errorCode: .noError)
            flush()
            if activeStreams == 0 { context?.close(promise: nil) }
        }
    }

    // MARK: Called by streams

    func submitRequest(_ stream: HTTP2UpstreamStream, head: ProxyRequestHead, body: NGHTTP2OutboundBody?) -> Int32? {
        guard let session, state != .closed, state != .goingAway else {
            streamDone(stream)
            return nil
        }
        // `x-sidecar-orig-proto` is for sidecars: sent over TLS to an endpoint that is one, or
        // may be (its first connection's requests are submitted before the ALPN pick is known).
        // Until this loop has asked, what another loop learned counts.
        let toSidecar = isSecure && (owner?.isSidecar ?? owner?.endpoint.isSidecar) != false
        HTTP2HeaderTranslation.requestFields(from: head, scheme: scheme, into: &outgoingFields, marksHTTP1Caller: head.marksHTTP1Caller && toSidecar)
        let submitted = session.submitRequest(outgoingFields, body: body)
        outgoingFields.removeAll()  // nghttp2 copied it; a large list's storage goes now
        guard let id = submitted else {
            streamDone(stream)
            return nil
        }
        streams[id] = stream
        scheduleFlush()
        return id
    }

    func bodyQueued(_ stream: HTTP2UpstreamStream) {
        session?.resumeData(streamID: stream.streamID, body: stream.requestBody)
        if stream.reportedWritable, !stream.isWritable {
            stream.reportedWritable = false
            blockedStreams.append(stream)
        }
        scheduleFlush()
    }

    func consume(streamID: Int32, bytes: Int) {
        guard streamID != 0 else { return }
        session?.consume(streamID: streamID, bytes: bytes)
        scheduleFlush()
    }

    func cancel(_ stream: HTTP2UpstreamStream) {
        resetStream(stream, errorCode: .cancel)
    }

    func resetStream(_ stream: HTTP2UpstreamStream, errorCode: HTTP2ErrorCode) {
        guard stream.streamID != 0, streams[stream.streamID] === stream else { return }
        session?.resetStream(stream.streamID, errorCode: errorCode)
        scheduleFlush()
    }

    private func streamDone(_ stream: HTTP2UpstreamStream) {
        activeStreams -= 1
        if activeStreams == 0 {
            idleSince = .now()
            if case .goingAway = state { context?.close(promise: nil) }
        }
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

    private func flush() {
        guard let session, let context, case .ready = state else {
            if case .goingAway = state, let session, let context { flushNow(session: session, context: context) }
            return
        }
        flushNow(session: session, context: context)
    }

    private func flushNow(session: NGHTTP2Session, context: ChannelHandlerContext) {
        if session.isBusy || flushing {
            needsFlush = true
            return
        }
        flushing = true
        defer { flushing = false }
        var failed = false
        repeat {
            needsFlush = false
            let output = session.writeOutput(
                allocator: allocator,
                canWrite: { channelWritable },
                write: { context.write(wrapOutboundOut($0), promise: nil) }
            )
            if output.failed { failed = true }
            if output.wrote { context.flush() }
            notifyWritable()
        } while needsFlush && !failed
        if failed || !session.wantsReadOrWrite {
            context.close(promise: nil)
        }
    }

    private func notifyWritable() {
        guard !blockedStreams.isEmpty else { return }
        let waiting = blockedStreams
        blockedStreams.removeAll()
        for stream in waiting where !stream.finished {
            if stream.isWritable {
                stream.reportedWritable = true
                stream.delegate?.upstreamWritabilityChanged()
            } else {
                blockedStreams.append(stream)
            }
        }
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channelWritable = context.channel.isWritable
        allocator = context.channel.allocator
        if session == nil { context.close(promise: nil) }
    }

    /// The channel's writability as of its last `channelWritabilityChanged`, and its allocator:
    /// read per stream and per flush, where asking the channel costs a retain and release of it.
    private var channelWritable = true
    private var allocator = ByteBufferAllocator()

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        closeAndFailAll(.reset(responseStarted: false))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else { return }
        let buffer = unwrapInboundIn(data)
        // (Over a negotiated connection the server's ALPN pick already said it speaks HTTP/2.)
        if !receivedAnything, !negotiatesProtocol, buffer.readableBytes >= 4 {
            // An HTTP/2 server's first frame is SETTINGS (type 0x4 in the fourth byte).
            receivedAnything = true
            if buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self) != 0x4 {
                peerNotHTTP2 = true
                owner?.speaksHTTP2 = false
                context.close(promise: nil)
                return
            }
        }
        do {
            try session.receive(buffer)
        } catch {
            flush()
            context.close(promise: nil)
            return
        }
        flush()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
        if !streamsWithData.isEmpty {
            let streams = streamsWithData
            streamsWithData.removeAll(keepingCapacity: true)
            for stream in streams {
                stream.receivedInThisRead = false
                stream.delegate?.upstreamReadComplete()
            }
        }
        context.fireChannelReadComplete()
    }

    /// Streams that got body data in the current read (see `HTTP2UpstreamStream.receivedInThisRead`).
    private var streamsWithData: [HTTP2UpstreamStream] = []

    func streamReceivedData(_ stream: HTTP2UpstreamStream) {
        streamsWithData.append(stream)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        channelWritable = context.channel.isWritable
        if channelWritable {
            flush()
        } else {
            for stream in streams where stream.reportedWritable && !stream.finished {
                stream.reportedWritable = false
                blockedStreams.append(stream)
                stream.delegate?.upstreamWritabilityChanged()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasConnecting: Bool
        if case .connecting = state { wasConnecting = true } else { wasConnecting = false }
        if peerNotHTTP2 {
            closeAndFailAll(.http2NotSpoken("the endpoint did not answer the HTTP/2 preface with SETTINGS"))
        } else {
            closeAndFailAll(wasConnecting ? .connectFailed("connection closed before HTTP/2 was ready") : nil)
        }
        context.fireChannelInactive()
    }

    /// Fails every open stream: `failure`, or `.reset` with whether each one's response had started.
    private func failAll(_ failure: UpstreamFailure?) {
        let open = streams
        streams.removeAll()
        blockedStreams.removeAll()
        // The channel may close inside a read (no read-complete follows): these streams hold
        // the connection, so the list must not outlive it.
        streamsWithData.removeAll()
        for stream in open {
            activeStreams -= 1
            stream.fail(failure ?? .reset(responseStarted: stream.responseStarted))
        }
    }

    private func reportClosed() {
        if let onClose {
            self.onClose = nil
            onClose(self)
        }
    }

    // MARK: NGHTTP2SessionDelegate

    func sessionReceivedHeaders(_ block: consuming HTTP2HeaderBlock, streamID: Int32, endStream: Bool) {
        streams[streamID]?.receivedHeaders(block, endStream: endStream)
    }

    func sessionReceivedData(_ bytes: UnsafeRawBufferPointer, streamID: Int32) {
        guard let stream = streams[streamID], context != nil else {
            session?.consume(streamID: streamID, bytes: bytes.count)
            return
        }
        stream.receivedData(allocator.buffer(bytes: bytes))
    }

    func sessionReceivedEndOfStream(streamID: Int32) {
        streams[streamID]?.receivedEndOfStream()
    }

    func sessionReceivedEmptyData(streamID: Int32) {}
    func sessionReceivedReset(streamID: Int32, errorCode: UInt32) {}
    func sessionReceivedSettings() {
        if !peerSpokeHTTP2 {
            peerSpokeHTTP2 = true
            owner?.speaksHTTP2 = true
        }
    }

    func sessionReceivedGoAway(lastStreamID: Int32, errorCode: UInt32) {
        if case .ready = state { state = .goingAway }
        if case .connecting = state { state = .goingAway }
    }

    func sessionStreamClosed(streamID: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        session?.consumeConnection(bytes: stream.takeUnconsumedBytes())
        stream.closed(errorCode: errorCode)
        streamDone(stream)
    }

    func sessionHeadersNotSent(streamID: Int32) {
        // The request never left (e.g. GOAWAY came first): nghttp2 closes the stream next; make
        // sure the exchange hears "refused" rather than a reset.
        guard let stream = streams[streamID] else { return }
        stream.fail(.refusedStream)
    }
}

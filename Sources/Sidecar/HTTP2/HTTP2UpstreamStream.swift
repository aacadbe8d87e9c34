import NIOCore
import NIOHTTP1

/// One request/response exchange on a shared `HTTP2UpstreamConnection`: the `UpstreamStream` a
/// `ProxyExchange` attaches to. `cancel()` resets this stream only (RST_STREAM CANCEL); the
/// connection stays up for the others. Lives on the connection's event loop; the connection's
/// stream table keeps it until nghttp2 closes the stream.
///
/// Response body flow control mirrors the downstream side: DATA is given back to the server's
/// window only while the exchange is not paused.
final class HTTP2UpstreamStream: UpstreamStream {
    /// The exchange being served. Strong, as `HTTP1UpstreamConnection.delegate` (a weak reference
    /// would give every exchange a side table): every way the stream ends — `finish`, `fail`,
    /// `cancel()` — clears it, which breaks the exchange ⇄ stream cycle.
    var delegate: UpstreamStreamDelegate?
    /// Strong: the exchange may still ask `isWritable` after the connection left its pool. The
    /// cycle through the connection's stream table ends when nghttp2 closes the stream or the
    /// connection fails its streams.
    private let connection: HTTP2UpstreamConnection
    /// 0 until the request head is submitted.
    private(set) var streamID: Int32 = 0
    let requestBody = NGHTTP2OutboundBody()
    private(set) var responseStarted = false
    /// The final response head arrived.
    private var finalHeadReceived = false
    /// The exchange heard the end or a failure: nothing more is reported.
    private(set) var finished = false
    private var readingPaused = false
    private var unconsumedBytes = 0
    /// Writability last reported to the exchange.
    var reportedWritable = true

    init(connection: HTTP2UpstreamConnection) {
        self.connection = connection
    }

    var isWritable: Bool {
        !finished && connection.isWritable && requestBody.queuedBytes < HTTP2Limits.streamSendHighWater
    }

    // MARK: UpstreamStream

    func sendRequestHead(_ head: ProxyRequestHead, hasBody: Bool) {
        guard streamID == 0, !finished else { return }
        if !hasBody { requestBody.end(trailers: nil) }
        guard let id = connection.submitRequest(self, head: head, body: hasBody ? requestBody : nil) else {
            // Never sent: as good as refused. Reported on the next tick (the exchange is mid-call).
            failLater(.refusedStream)
            return
        }
        streamID = id
    }

    func sendRequestBody(_ buffer: ByteBuffer) {
        guard streamID != 0, !finished else { return }
        requestBody.append(buffer)
        connection.bodyQueued(self)
    }

    func sendRequestEnd(_ trailers: HTTPHeaders?) {
        guard streamID != 0, !finished else { return }
        requestBody.end(trailers: trailers)
        connection.bodyQueued(self)
    }

    func setResponseReadingPaused(_ paused: Bool) {
        readingPaused = paused
        if !paused, unconsumedBytes > 0 {
            let count = unconsumedBytes
            unconsumedBytes = 0
            connection.consume(streamID: streamID, bytes: count)
        }
    }

    func cancel() {
        delegate = nil
        guard !finished else { return }
        finished = true
        requestBody.discard()
        connection.cancel(self)
    }

    // MARK: From the connection

    func receivedHeaders(_ block: consuming HTTP2HeaderBlock, endStream: Bool) {
        guard !finished else { return }
        if !finalHeadReceived {
            switch HTTP2HeaderTranslation.responseHead(from: block) {
            case .success(let head):
                if head.status.code < 200 { return }  // interim: the final head follows
                finalHeadReceived = true
                responseStarted = true
                delegate?.upstreamResponseHead(head)
                if endStream { finish(trailers: nil) }
            case .failure:
                fail(.protocolError)
                connection.resetStream(self, errorCode: .protocolError)
            }
            return
        }
        switch HTTP2HeaderTranslation.trailers(from: block) {
        case .success(let trailers):
            finish(trailers: trailers)
        case .failure:
            fail(.protocolError)
            connection.resetStream(self, errorCode: .protocolError)
        }
    }

    /// Body arrived in the connection's current read: its exchange is told when the read ends
    /// (an HTTP/1.1 caller's response is flushed then, not only at its end).
    var receivedInThisRead = false

    func receivedData(_ buffer: ByteBuffer) {
        let count = buffer.readableBytes
        if !finished, let delegate {
            if !receivedInThisRead {
                receivedInThisRead = true
                connection.streamReceivedData(self)
            }
            delegate.upstreamResponseBody(buffer)
            if readingPaused {
                unconsumedBytes += count
                return
            }
        }
        connection.consume(streamID: streamID, bytes: count)
    }

    func receivedEndOfStream() {
        finish(trailers: nil)
    }

    /// nghttp2 closed the stream; anything not yet reported is a failure.
    func closed(errorCode: UInt32) {
        guard !finished else { return }
        if errorCode == HTTP2ErrorCode.refusedStream.rawValue, !responseStarted {
            fail(.refusedStream)
        } else if errorCode == HTTP2ErrorCode.protocolError.rawValue, !responseStarted {
            fail(.protocolError)
        } else {
            fail(.reset(responseStarted: responseStarted))
        }
    }

    func takeUnconsumedBytes() -> Int {
        let count = unconsumedBytes
        unconsumedBytes = 0
        return count
    }

    private func finish(trailers: HTTPHeaders?) {
        guard !finished else { return }
        finished = true
        if !requestBody.ended {
            // The server answered before the whole request was sent: stop sending it.
            requestBody.discard()
            connection.resetStream(self, errorCode: .cancel)
        }
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamResponseEnd(trailers)
    }

    func fail(_ failure: UpstreamFailure) {
        guard !finished else { return }
        finished = true
        requestBody.discard()
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(failure)
    }

    private func failLater(_ failure: UpstreamFailure) {
        connection.eventLoop.execute { [self] in fail(failure) }
    }
}

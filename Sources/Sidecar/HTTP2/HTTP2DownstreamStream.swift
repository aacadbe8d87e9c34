import NIOCore
import NIOHTTP1

/// One HTTP/2 stream of a downstream (caller) connection: the `DownstreamStream` its
/// `ProxyExchange` writes the response through. Lives on the connection's event loop, kept by the
/// `HTTP2DownstreamHandler`'s stream table until nghttp2 closes the stream.
///
/// Request body flow control: received DATA is handed to the exchange at once and given back to
/// the peer's window (`consume`) only while the exchange is not paused; while it is, the bytes are
/// counted and given back on resume, so a slow upstream holds the caller back.
final class HTTP2DownstreamStream: DownstreamStream {
    let streamID: Int32
    /// Strong; the cycle through the handler's stream table ends when the stream closes or the
    /// connection goes (`closeAllStreams`).
    private let connection: HTTP2DownstreamHandler
    var exchange: ProxyExchange?
    var localAddress: SocketAddress? { connection.channelLocalAddress }
    var remoteAddress: SocketAddress? { connection.channelRemoteAddress }
    /// The response body queued for nghttp2 (handed to the session with the response head).
    let responseBody = NGHTTP2OutboundBody()
    var requestMethod: HTTPMethod = .GET
    /// END_STREAM arrived from the caller.
    var requestComplete = false
    /// The response head went out (or is held for a trailers-only answer).
    private(set) var responseStarted = false
    /// The response head is submitted with a data provider (DATA and trailers may follow).
    private var responseHasProvider = false
    /// A head carrying `grpc-status`: held so that, when no body follows, it goes out as a single
    /// trailers-only HEADERS frame with END_STREAM.
    private var heldTrailersOnlyHead: ProxyResponseHead?
    private var responseEnded = false
    private var readingPaused = false
    /// Received bytes not yet given back to the peer's window.
    private var unconsumedBytes = 0
    /// Writability last reported to the exchange.
    var reportedWritable = true
    var closed = false

    init(streamID: Int32, connection: HTTP2DownstreamHandler) {
        self.streamID = streamID
        self.connection = connection
    }

    var eventLoop: EventLoop { connection.eventLoop }

    var isWritable: Bool {
        !closed && connection.isChannelWritable && responseBody.queuedBytes < HTTP2Limits.streamSendHighWater
    }

    // MARK: Request side (called by the connection)

    func receivedData(_ buffer: ByteBuffer) {
        let count = buffer.readableBytes
        if let exchange, !requestComplete {
            exchange.receiveBody(buffer)
            if readingPaused {
                unconsumedBytes += count
                return
            }
        }
        connection.consume(streamID: streamID, bytes: count)
    }

    /// The stream is closed: bytes never given back count against the connection window only.
    func takeUnconsumedBytes() -> Int {
        let count = unconsumedBytes
        unconsumedBytes = 0
        return count
    }

    // MARK: DownstreamStream

    func sendResponseHead(_ head: consuming ProxyResponseHead) {
        guard !closed, !responseStarted else { return }
        if head.status.code < 200 { return }  // interim responses are not forwarded
        responseStarted = true
        let head = head
        if head.fields.contains(lowercaseName: "grpc-status") {
            heldTrailersOnlyHead = head
            return
        }
        let bodyAllowed = requestMethod != .HEAD && head.status.code != 204 && head.status.code != 304
        responseHasProvider = bodyAllowed
        connection.submitResponse(self, head: head, body: bodyAllowed ? responseBody : nil)
    }

    func sendResponseBody(_ buffer: ByteBuffer) {
        guard !closed, !responseEnded else { return }
        if let held = heldTrailersOnlyHead {
            // Not trailers-only after all: the head goes out, its body follows.
            heldTrailersOnlyHead = nil
            responseHasProvider = true
            connection.submitResponse(self, head: held, body: responseBody)
        }
        guard responseHasProvider else { return }
        responseBody.append(buffer)
        connection.bodyQueued(self)
    }

    func sendResponseEnd(_ trailers: HTTPHeaders?) {
        guard !closed, !responseEnded else { return }
        responseEnded = true
        if var held = heldTrailersOnlyHead {
            heldTrailersOnlyHead = nil
            if let trailers {
                // Trailers after a held head: still one HEADERS frame, with everything in it.
                for (name, value) in trailers where !held.fields.contains(name: name) { held.fields.append(name: name, value: value) }
            }
            held.fields.remove(name: "content-length")
            connection.submitResponse(self, head: held, body: nil)
            return
        }
        guard responseHasProvider else { return }
        responseBody.end(trailers: trailers)
        connection.bodyQueued(self)
    }

    func setRequestReadingPaused(_ paused: Bool) {
        readingPaused = paused
        if !paused, unconsumedBytes > 0 {
            let count = unconsumedBytes
            unconsumedBytes = 0
            connection.consume(streamID: streamID, bytes: count)
        }
    }

    func abort() {
        guard !closed else { return }
        connection.reset(self, errorCode: .internalError)
    }

    func exchangeDidFinish(_ exchange: ProxyExchange) {
        guard self.exchange === exchange else { return }
        self.exchange = nil
        if readingPaused { setRequestReadingPaused(false) }
    }
}

import NIOCore
import NIOHTTP1

/// The caller's side of one exchange: an HTTP/1.1 connection serving one request at a time, or an
/// HTTP/2 stream. The proxy core writes the response through it.
protocol DownstreamStream: AnyObject {
    var eventLoop: EventLoop { get }
    /// False while the transport's send buffer is full: stop feeding response body.
    var isWritable: Bool { get }
    func sendResponseHead(_ head: consuming ProxyResponseHead)
    func sendResponseBody(_ buffer: ByteBuffer)
    /// Sends the end of the response (and flushes).
    func sendResponseEnd(_ trailers: HTTPHeaders?)
    /// Pushes written response data to the network (once per upstream read batch).
    func flush()
    /// Backpressure from the upstream: stop (or resume) reading request data.
    func setRequestReadingPaused(_ paused: Bool)
    /// The exchange cannot finish the response cleanly (it failed after the head was sent):
    /// HTTP/1.1 closes the connection, HTTP/2 resets the stream.
    func abort()
    /// The exchange is over (response fully written or aborted); the stream may take the next one.
    func exchangeDidFinish(_ exchange: ProxyExchange)
    /// The listener's address this request arrived on (trace `server.address`); read only for
    /// sampled requests.
    var localAddress: SocketAddress? { get }
    /// The caller's address (trace `network.peer.address`); read only for sampled requests.
    var remoteAddress: SocketAddress? { get }
}

extension DownstreamStream {
    var localAddress: SocketAddress? { nil }
    var remoteAddress: SocketAddress? { nil }
}

extension DownstreamStream {
    func flush() {}
}

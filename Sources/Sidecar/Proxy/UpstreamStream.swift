import NIOCore
import NIOHTTP1

/// Why an upstream attempt ended without a full response.
enum UpstreamFailure: Error, Equatable {
    /// TCP connect or TLS handshake failed (or timed out): nothing was sent.
    case connectFailed(String)
    /// The connection closed or the stream was reset; `responseStarted` tells whether any of the
    /// response had arrived.
    case reset(responseStarted: Bool)
    /// HTTP/2 REFUSED_STREAM or a stream above a GOAWAY's last-stream-id: never processed.
    case refusedStream
    /// The response could not be parsed.
    case protocolError
    /// An HTTP/2 connection found that the endpoint does not speak HTTP/2 (its ALPN pick was
    /// another protocol, or its first bytes were not a SETTINGS frame): nothing was processed.
    case http2NotSpoken(String)
}

/// One request/response exchange with an upstream, over an HTTP/1.1 connection or an HTTP/2 stream.
/// The proxy core writes the request through it and hears the response through its delegate.
protocol UpstreamStream: AnyObject {
    var delegate: UpstreamStreamDelegate? { get set }
    /// False while the transport's send buffer is full: stop feeding request body.
    var isWritable: Bool { get }
    /// `hasBody`: the request has a body to follow (the transport frames it, e.g. chunked when no length is known).
    func sendRequestHead(_ head: ProxyRequestHead, hasBody: Bool)
    func sendRequestBody(_ buffer: ByteBuffer)
    /// Sends the end of the request (and flushes).
    func sendRequestEnd(_ trailers: HTTPHeaders?)
    /// Pushes written request data to the network. Body writes are not flushed one by one: the
    /// exchange flushes once per batch, so a small request costs one system call.
    func flush()
    /// Backpressure from the downstream: stop (or resume) reading response data.
    func setResponseReadingPaused(_ paused: Bool)
    /// Abandons the exchange: the HTTP/1.1 connection is closed, the HTTP/2 stream reset.
    func cancel()
}

/// What an upstream stream reports to the exchange that owns it. All calls happen on its event loop.
protocol UpstreamStreamDelegate: AnyObject {
    func upstreamResponseHead(_ head: consuming ProxyResponseHead)
    func upstreamResponseBody(_ buffer: ByteBuffer)
    func upstreamResponseEnd(_ trailers: HTTPHeaders?)
    func upstreamFailed(_ failure: UpstreamFailure)
    func upstreamWritabilityChanged()
    /// The transport finished a read batch: the exchange flushes what it forwarded downstream.
    func upstreamReadComplete()
}

extension UpstreamStream {
    func flush() {}
}

extension UpstreamStreamDelegate {
    func upstreamReadComplete() {}
}

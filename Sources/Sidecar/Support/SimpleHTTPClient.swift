import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for the control plane (demo traffic, health checks, trace export):
/// one keep-alive connection, one request at a time, whole bodies, a deadline per request.
/// Not for the data path, which streams through `ProxyExchange`.
final class SimpleHTTPClient: @unchecked Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    struct ClientError: Error, CustomStringConvertible {
        var description: String
    }

    private let eventLoop: EventLoop
    private let address: SocketAddress
    private let hostHeader: String
    private let maxResponseBody: Int
    /// Adds protocol handlers in front of HTTP (e.g. TLS) to a new connection.
    private let prepareChannel: (@Sendable (Channel) -> EventLoopFuture<Void>)?
    private var channel: Channel?
    private var handler: ResponseCollector?

    init(
        eventLoop: EventLoop,
        address: SocketAddress,
        hostHeader: String,
        maxResponseBody: Int = 1024 * 1024,
        prepareChannel: (@Sendable (Channel) -> EventLoopFuture<Void>)? = nil
    ) {
        self.eventLoop = eventLoop
        self.address = address
        self.hostHeader = hostHeader
        self.maxResponseBody = maxResponseBody
        self.prepareChannel = prepareChannel
    }

    /// Sends one request; must be called on `eventLoop`. Reconnects when the last connection closed.
    func execute(method: HTTPMethod, path: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil, timeout: TimeAmount) -> EventLoopFuture<Response> {
        eventLoop.assertInEventLoop()
        let connection: EventLoopFuture<(Channel, ResponseCollector)>
        if let channel, channel.isActive, let handler {
            connection = eventLoop.makeSucceededFuture((channel, handler))
        } else {
            connection = connect(timeout: timeout)
        }
        return connection.flatMap { channel, handler in
            var requestHeaders = headers
            requestHeaders.replaceOrAdd(name: "host", value: self.hostHeader)
            if let body {
                requestHeaders.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
            } else if method == .POST || method == .PUT {
                requestHeaders.replaceOrAdd(name: "content-length", value: "0")
            }
            let promise = self.eventLoop.makePromise(of: Response.self)
            handler.expect(promise, maxBody: self.maxResponseBody)
            let timer = self.eventLoop.scheduleTask(in: timeout) {
                promise.fail(ClientError(description: "request timed out"))
                channel.close(promise: nil)
            }
            channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: requestHeaders)), promise: nil)
            if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            return promise.futureResult.always { _ in timer.cancel() }
        }
    }

    func close() {
        channel?.close(promise: nil)
        channel = nil
    }

    private func connect(timeout: TimeAmount) -> EventLoopFuture<(Channel, ResponseCollector)> {
        let collector = ResponseCollector()
        let prepare = prepareChannel
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(to: address)
            .flatMap { channel in
                let ready = prepare?(channel) ?? channel.eventLoop.makeSucceededVoidFuture()
                return ready.flatMapThrowing {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                    return channel
                }
            }
            .map { channel in
                self.channel = channel
                self.handler = collector
                return (channel, collector)
            }
    }
}

/// Gathers one response at a time for `SimpleHTTPClient`.
/// Loop-bound: created, used and released on its connection's event loop only.
final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private var promise: EventLoopPromise<SimpleHTTPClient.Response>?
    private var maxBody = 0
    private var response: SimpleHTTPClient.Response?

    func expect(_ promise: EventLoopPromise<SimpleHTTPClient.Response>, maxBody: Int) {
        self.promise = promise
        self.maxBody = maxBody
        self.response = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            response = SimpleHTTPClient.Response(status: Int(head.status.code), headers: head.headers, body: ByteBuffer())
        case .body(var buffer):
            guard response != nil else { return }
            if response!.body.readableBytes + buffer.readableBytes > maxBody {
                fail(SimpleHTTPClient.ClientError(description: "response body over \(maxBody) bytes"), context: context)
                return
            }
            response!.body.writeBuffer(&buffer)
        case .end:
            if let response, let promise {
                self.promise = nil
                promise.succeed(response)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SimpleHTTPClient.ClientError(description: "connection closed before a full response"), context: context)
        context.fireChannelInactive()
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        if let promise {
            self.promise = nil
            promise.fail(error)
        }
        context.close(promise: nil)
    }
}

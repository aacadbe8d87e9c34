import NIOCore
import NIOHTTP1
import NIOPosix

/// Opens upstream connections for one cluster on one event loop: TCP connect with the cluster's
/// connect timeout, the TLS handler when the cluster originates mTLS, and the HTTP/1.1 codec or
/// the HTTP/2 connection handler.
struct UpstreamConnector {
    /// Adds the TLS client handler (and waits for its handshake) when the cluster uses mTLS.
    typealias SecureChannel = @Sendable (Channel, Endpoint) -> EventLoopFuture<Void>

    let eventLoop: EventLoop
    let connectTimeout: TimeAmount
    let secureChannel: SecureChannel?

    /// Connects to `loopEndpoint` and returns its connection handler, ready for an exchange.
    func connect(
        _ loopEndpoint: LoopEndpoint,
        onClose: @escaping (HTTP1UpstreamConnection) -> Void
    ) -> EventLoopFuture<HTTP1UpstreamConnection> {
        let handler = HTTP1UpstreamConnection(owner: loopEndpoint, onClose: onClose)
        let address: SocketAddress
        do {
            address = try loopEndpoint.endpoint.resolvedAddress()
        } catch {
            handler.reportClosed()
            return eventLoop.makeFailedFuture(UpstreamFailure.connectFailed("cannot resolve \(loopEndpoint.endpoint.address): \(error)"))
        }
        let endpoint = loopEndpoint.endpoint
        let secureChannel = self.secureChannel
        let timeout = connectTimeout == .zero ? TimeAmount.seconds(30) : connectTimeout
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .dropBytes,
                        enableOutboundHeaderValidation: false,
                        encoderConfiguration: {
                            var configuration = HTTPRequestEncoder.Configuration()
                            configuration.automaticallySetFramingHeaders = false
                            return configuration
                        }()
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let deadline = NIODeadline.now() + timeout
        return bootstrap.connect(to: address).flatMap { channel -> EventLoopFuture<HTTP1UpstreamConnection> in
            guard let secureChannel else {
                return channel.eventLoop.makeSucceededFuture(handler)
            }
            let handshake = secureChannel(channel, endpoint)
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) {
                channel.close(promise: nil)
            }
            return handshake.map { _ in
                timer.cancel()
                return handler
            }.flatMapErrorThrowing { error in
                timer.cancel()
                channel.close(promise: nil)
                throw error
            }
        }.flatMapErrorThrowing { error in
            handler.reportClosed()
            if error is UpstreamFailure { throw error }
            throw UpstreamFailure.connectFailed(String(describing: error))
        }
    }

    /// Connects `handler` (an HTTP/2 connection, already listed in its endpoint's pool) to
    /// `loopEndpoint`; succeeds once TCP and, for mTLS, the handshake are done.
    func connectHTTP2(_ loopEndpoint: LoopEndpoint, handler: HTTP2UpstreamConnection) -> EventLoopFuture<Void> {
        let address: SocketAddress
        do {
            address = try loopEndpoint.endpoint.resolvedAddress()
        } catch {
            return eventLoop.makeFailedFuture(UpstreamFailure.connectFailed("cannot resolve \(loopEndpoint.endpoint.address): \(error)"))
        }
        let endpoint = loopEndpoint.endpoint
        let secureChannel = self.secureChannel
        let timeout = connectTimeout == .zero ? TimeAmount.seconds(30) : connectTimeout
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let deadline = NIODeadline.now() + timeout
        return bootstrap.connect(to: address).flatMap { channel -> EventLoopFuture<Void> in
            guard let secureChannel else {
                return channel.eventLoop.makeSucceededFuture(())
            }
            let handshake = secureChannel(channel, endpoint)
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) {
                channel.close(promise: nil)
            }
            return handshake.map { _ in
                timer.cancel()
            }.flatMapErrorThrowing { error in
                timer.cancel()
                channel.close(promise: nil)
                throw error
            }
        }.flatMapErrorThrowing { error in
            if error is UpstreamFailure { throw error }
            throw UpstreamFailure.connectFailed(String(describing: error))
        }
    }
}

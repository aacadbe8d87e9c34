import NIOCore
import NIOHTTP1
import NIOPosix

/// Opens upstream connections for one cluster on one event loop: TCP connect with the cluster's
/// connect timeout, the TLS handler when the cluster originates mTLS, and the HTTP/1.1 codec or
/// the HTTP/2 connection handler.
struct UpstreamConnector {
    /// Adds the TLS client handler (and waits for its handshake) when the cluster uses mTLS, for
    /// an HTTP/2 connection (`true`) or an HTTP/1.1 one; completes with the protocol the server
    /// picked by ALPN (nil: none).
    typealias SecureChannel = @Sendable (_ channel: Channel, _ endpoint: Endpoint, _ http2: Bool) -> EventLoopFuture<String?>

    let eventLoop: EventLoop
    let connectTimeout: TimeAmount
    let secureChannel: SecureChannel?

    /// Connects to `loopEndpoint` and returns its connection handler, ready for an exchange.
    func connect(
        _ loopEndpoint: LoopEndpoint,
        onClose: @escaping (HTTP1UpstreamConnection) -> Void
    ) -> EventLoopFuture<HTTP1UpstreamConnection> {
        let handler = HTTP1UpstreamConnection(owner: loopEndpoint, onClose: onClose)
        return open(loopEndpoint, http2: false) { channel in
            // The connection frames requests and parses responses itself.
            try channel.pipeline.syncOperations.addHandler(handler)
        }.map { _ in handler }.flatMapErrorThrowing { error in
            handler.reportClosed()
            throw error
        }
    }

    /// Connects `handler` (an HTTP/2 connection, already listed in its endpoint's pool) to
    /// `loopEndpoint`; succeeds once TCP and, for mTLS, the handshake are done, with the protocol
    /// the server picked by ALPN (nil: plaintext, or none).
    func connectHTTP2(_ loopEndpoint: LoopEndpoint, handler: HTTP2UpstreamConnection) -> EventLoopFuture<String?> {
        open(loopEndpoint, http2: true) { channel in
            try channel.pipeline.syncOperations.addHandler(handler)
        }
    }

    /// TCP connect with the connect timeout, the protocol handlers from `configure`, then (for
    /// mTLS clusters) the TLS handshake, which must also finish within the connect timeout.
    /// Completes with the protocol the server picked by ALPN (nil: plaintext, or none). Every
    /// failure is an `UpstreamFailure.connectFailed`.
    private func open(
        _ loopEndpoint: LoopEndpoint,
        http2: Bool,
        configure: @escaping (Channel) throws -> Void
    ) -> EventLoopFuture<String?> {
        let address: SocketAddress
        do {
            address = try loopEndpoint.endpoint.resolvedAddress()
        } catch {
            return eventLoop.makeFailedFuture(UpstreamFailure.connectFailed("cannot resolve \(loopEndpoint.endpoint.address): \(error)"))
        }
        let endpoint = loopEndpoint.endpoint
        let secureChannel = self.secureChannel
        let timeout = connectTimeout == .zero ? TimeAmount.seconds(30) : connectTimeout
        // Called on this loop (by `LoopCluster`), and the channel is created on it too.
        let configure = NIOLoopBound(configure, eventLoop: eventLoop)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try configure.value(channel) }
            }
        let deadline = NIODeadline.now() + timeout
        return bootstrap.connect(to: address).flatMap { channel -> EventLoopFuture<String?> in
            guard let secureChannel else {
                return channel.eventLoop.makeSucceededFuture(nil)
            }
            let handshake = secureChannel(channel, endpoint, http2)
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) {
                channel.close(promise: nil)
            }
            return handshake.map { alpn in
                timer.cancel()
                return alpn
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

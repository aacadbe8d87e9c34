import NIOCore

/// Originates mutual TLS on a freshly connected upstream channel: adds the TLS client handler in
/// front of HTTP and completes once the handshake has verified the server (against the trust
/// bundle and the cluster's `expectIdentity`). A failure is a connect failure: no request is sent.
enum UpstreamTLS {
    static func secure(
        channel: Channel,
        worker: WorkerContext,
        cluster: ClusterConfig,
        endpoint: Endpoint
    ) -> EventLoopFuture<Void> {
        guard let identity = worker.identity else {
            return channel.eventLoop.makeFailedFuture(UpstreamFailure.connectFailed("no identity for mutual TLS"))
        }
        let context = cluster.protocol == .http2 ? identity.clientHTTP2 : identity.clientHTTP1
        let promise = channel.eventLoop.makePromise(of: Void.self)
        do {
            let tls = OpenSSLHandler(
                context: context,
                serverName: cluster.tls.serverName,
                expectedPeerIdentities: cluster.tls.expectIdentity,
                sessionCacheKey: "\(cluster.tls.serverName ?? "")@\(endpoint.address)"
            )
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(tls, position: .first)
            try sync.addHandler(UpstreamTLSHandshakeHandler(promise: promise, worker: worker), position: .after(tls))
        } catch {
            promise.fail(error)
        }
        return promise.futureResult
    }
}

/// Completes the upstream handshake promise, counts the result, then steps aside.
final class UpstreamTLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var promise: EventLoopPromise<Void>?
    private let worker: WorkerContext

    init(promise: EventLoopPromise<Void>, worker: WorkerContext) {
        self.promise = promise
        self.worker = worker
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted, let promise {
            self.promise = nil
            worker.metrics.tlsHandshake(direction: .outbound, success: true)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            promise.succeed(())
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let promise {
            self.promise = nil
            worker.metrics.tlsHandshake(direction: .outbound, success: false)
            promise.fail(UpstreamFailure.connectFailed("TLS handshake failed: \(error)"))
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let promise {
            self.promise = nil
            worker.metrics.tlsHandshake(direction: .outbound, success: false)
            promise.fail(UpstreamFailure.connectFailed("connection closed during the TLS handshake"))
        }
        context.fireChannelInactive()
    }
}

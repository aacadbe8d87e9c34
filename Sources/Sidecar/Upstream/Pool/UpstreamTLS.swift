import NIOCore

/// Originates mutual TLS on a freshly connected upstream channel: adds the TLS client handler in
/// front of HTTP and completes once the handshake has verified the server (against the trust
/// bundle and the cluster's `expectIdentity`), with the protocol the server picked by ALPN. A
/// failure is a connect failure: no request is sent.
///
/// ALPN offers what the connection will speak: `http/1.1` for an HTTP/1.1 connection, `h2` for
/// an HTTP/2 one, and both for an HTTP/2 connection of a `protocol: auto` cluster (the server's
/// pick then says whether the endpoint speaks HTTP/2).
enum UpstreamTLS {
    static func secure(
        channel: Channel,
        worker: WorkerContext,
        cluster: ClusterConfig,
        endpoint: Endpoint,
        http2: Bool
    ) -> EventLoopFuture<String?> {
        guard let identity = worker.identity else {
            return channel.eventLoop.makeFailedFuture(UpstreamFailure.connectFailed("no identity for mutual TLS"))
        }
        let context: TLSContext
        if !http2 {
            context = identity.clientHTTP1
        } else {
            context = cluster.protocol == .auto ? identity.clientNegotiated : identity.clientHTTP2
        }
        let promise = channel.eventLoop.makePromise(of: String?.self)
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

/// Completes the upstream handshake promise with the negotiated ALPN protocol, counts the result,
/// then steps aside.
final class UpstreamTLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var promise: EventLoopPromise<String?>?
    private let worker: WorkerContext

    init(promise: EventLoopPromise<String?>, worker: WorkerContext) {
        self.promise = promise
        self.worker = worker
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let completed = event as? TLSHandshakeCompleted, let promise {
            self.promise = nil
            worker.metrics.tlsHandshake(direction: .outbound, success: true)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            promise.succeed(completed.negotiatedALPN)
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

import NIOCore

/// Builds an accepted connection's pipeline for its listener's TLS mode:
/// - `disabled`: plaintext: HTTP/1.1, or h2c when the first bytes are the HTTP/2 preface;
/// - `mutual`: TLS (client certificate required), then the protocol ALPN chose (`h2` or HTTP/1.1);
/// - `permissive`: the first bytes decide: a TLS ClientHello gets the `mutual` pipeline,
///   anything else plaintext (HTTP/1.1 or h2c, as for `disabled`).
enum DownstreamPipeline {
    static func configure(channel: Channel, worker: WorkerContext, listener: ListenerContext) throws {
        switch listener.tls {
        case .disabled:
            try addPlaintext(channel: channel, worker: worker, listener: listener)
        case .mutual:
            try addTLS(channel: channel, worker: worker, listener: listener, position: .last)
        case .permissive:
            let sniffer = FirstBytesSniffer(
                classify: OpenSSLHandler.isTLSClientHello,
                whenMatched: { channel in try addTLS(channel: channel, worker: worker, listener: listener, position: .last) },
                otherwise: { channel in try addPlaintext(channel: channel, worker: worker, listener: listener) }
            )
            try channel.pipeline.syncOperations.addHandler(sniffer)
        }
    }

    /// Adds the handler that tells h2c (prior knowledge) from HTTP/1.1 by the first bytes.
    static func addPlaintext(channel: Channel, worker: WorkerContext, listener: ListenerContext) throws {
        let sniffer = FirstBytesSniffer(
            classify: HTTP2Preface.matches,
            whenMatched: { channel in
                try ProxyListener.configureHTTP2(channel: channel, worker: worker, listener: listener, peerIdentity: nil)
            },
            otherwise: { channel in
                try ProxyListener.configureHTTP1(channel: channel, worker: worker, listener: listener, peerIdentity: nil)
            }
        )
        try channel.pipeline.syncOperations.addHandler(sniffer)
    }

    /// Adds the TLS server handler and, after it, the handler that installs HTTP once the
    /// handshake tells who the peer is.
    static func addTLS(channel: Channel, worker: WorkerContext, listener: ListenerContext, position: ChannelPipeline.SynchronousOperations.Position) throws {
        guard let identity = worker.identity else {
            throw StartupError("listener \(listener.name) needs an identity for TLS")
        }
        let tls = OpenSSLHandler(context: identity.server)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(tls, position: position)
        try sync.addHandler(DownstreamTLSHandshakeHandler(worker: worker, listener: listener), position: .after(tls))
    }
}

/// Waits for the downstream TLS handshake, counts its result, then installs the HTTP pipeline
/// with the verified peer identity and steps aside.
final class DownstreamTLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let worker: WorkerContext
    private let listener: ListenerContext
    private var done = false

    init(worker: WorkerContext, listener: ListenerContext) {
        self.worker = worker
        self.listener = listener
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let handshake = event as? TLSHandshakeCompleted, !done else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        done = true
        worker.metrics.tlsHandshake(direction: .inbound, success: true)
        do {
            let peerIdentity = handshake.peerIdentity?.description
            if MeshALPN.isHTTP2(handshake.negotiatedALPN) {
                try ProxyListener.configureHTTP2(
                    channel: context.channel, worker: worker, listener: listener, peerIdentity: peerIdentity,
                    peerIsSidecar: handshake.negotiatedALPN == MeshALPN.sidecarHTTP2)
            } else {
                try ProxyListener.configureHTTP1(channel: context.channel, worker: worker, listener: listener, peerIdentity: peerIdentity)
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !done {
            done = true
            worker.metrics.tlsHandshake(direction: .inbound, success: false)
            worker.logger.debug("inbound TLS handshake failed", metadata: ["listener": "\(listener.name)", "error": "\(error)"])
            // The TLS handler closes the connection itself once its alert (e.g. "certificate
            // required") is written, so the client learns why; closing here would cut it off.
            return
        }
        context.close(promise: nil)
    }
}

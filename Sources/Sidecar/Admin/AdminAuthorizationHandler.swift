import NIOCore

/// On a mutual-TLS admin connection: once the handshake names the caller, a SPIFFE ID outside
/// `admin.allow` has its connection closed before any request is read; an allowed one passes and
/// this handler steps aside. (No application data arrives before the handshake event.)
final class AdminAuthorizationHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let allow: Set<String>

    init(allow: Set<String>) {
        self.allow = allow
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let handshake = event as? TLSHandshakeCompleted else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard let peer = handshake.peerIdentity?.description, allow.contains(peer) else {
            context.close(promise: nil)
            return
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only reachable before authorization if the TLS layer misbehaved: never pass it on.
        context.close(promise: nil)
    }
}

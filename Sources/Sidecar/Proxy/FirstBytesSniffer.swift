import NIOCore

/// Holds a connection's first bytes until `classify` can tell what the connection speaks (a TLS
/// ClientHello, the HTTP/2 preface), lets the matching `configure` closure build the pipeline
/// behind it, then replays the held bytes into that pipeline and removes itself. It holds only as
/// many bytes as `classify` needs (a few, up to the 24-byte preface) and closes the connection if
/// the pipeline cannot be built.
final class FirstBytesSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// True / false once decided, nil while more bytes are needed.
    private let classify: (ByteBuffer) -> Bool?
    private let whenMatched: (Channel) throws -> Void
    private let otherwise: (Channel) throws -> Void
    private var buffered: ByteBuffer?

    init(classify: @escaping (ByteBuffer) -> Bool?, whenMatched: @escaping (Channel) throws -> Void, otherwise: @escaping (Channel) throws -> Void) {
        self.classify = classify
        self.whenMatched = whenMatched
        self.otherwise = otherwise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var held = buffered {
            held.writeBuffer(&incoming)
            buffered = held
        } else {
            buffered = incoming
        }
        guard let bytes = buffered, let matched = classify(bytes) else { return }
        do {
            try (matched ? whenMatched : otherwise)(context.channel)
        } catch {
            context.close(promise: nil)
            return
        }
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffered = nil
        context.fireChannelInactive()
    }
}

import NIOCore

/// For plaintext listeners: looks at a connection's first bytes; the HTTP/2 connection preface
/// (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, h2c with prior knowledge) gets the HTTP/2 pipeline,
/// anything else HTTP/1.1. Holds at most the 24 preface bytes, decides at the first byte that
/// differs (an HTTP/1.1 request line differs at its first or second byte), then removes itself
/// and replays what it held.
final class HTTP2PrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Is `bytes` the preface (true), not it (false), or too short to tell (nil)?
    static func matches(_ bytes: ByteBuffer) -> Bool? {
        let count = min(bytes.readableBytes, preface.count)
        let matching = bytes.withUnsafeReadableBytes { raw -> Bool in
            for index in 0..<count where raw[index] != preface[index] { return false }
            return true
        }
        if !matching { return false }
        return count == preface.count ? true : nil
    }

    private let configureHTTP1: (Channel) throws -> Void
    private let configureHTTP2: (Channel) throws -> Void
    private var buffered: ByteBuffer?

    init(configureHTTP1: @escaping (Channel) throws -> Void, configureHTTP2: @escaping (Channel) throws -> Void) {
        self.configureHTTP1 = configureHTTP1
        self.configureHTTP2 = configureHTTP2
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var held = buffered {
            held.writeBuffer(&incoming)
            buffered = held
        } else {
            buffered = incoming
        }
        guard let bytes = buffered, let isHTTP2 = HTTP2PrefaceSniffer.matches(bytes) else { return }
        do {
            if isHTTP2 {
                try configureHTTP2(context.channel)
            } else {
                try configureHTTP1(context.channel)
            }
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

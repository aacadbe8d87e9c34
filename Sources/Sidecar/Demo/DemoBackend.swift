import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP/1.1 application for demos: answers every request with a one-line JSON echo of
/// what the sidecar added (`x-request-id`, `x-sidecar-attempt`, `x-forwarded-client-cert`).
enum DemoBackend {
    static func start(name: String, group: EventLoopGroup, port: Int = 0) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(DemoBackendHandler(name: name))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
    }
}

final class DemoBackendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let name: String
    private var head: HTTPRequestHead?

    init(name: String) {
        self.name = name
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            var body = ByteBuffer()
            body.writeString("{\"service\":\"\(name)\",\"path\":")
            AccessLogFormatter.writeString(head.uri, into: &body)
            for header in ["x-request-id", "x-sidecar-attempt", "x-forwarded-client-cert"] {
                if let value = head.headers.first(name: header) {
                    body.writeString(",\"\(header)\":")
                    AccessLogFormatter.writeString(value, into: &body)
                }
            }
            body.writeString("}\n")
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.readableBytes))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            self.head = nil
        }
    }
}

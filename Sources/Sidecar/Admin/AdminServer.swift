import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin HTTP server (CONTRACT section 3): plaintext on loopback by default; with
/// `admin.tls: mutual`, mutual TLS with the workload identity (rotations included) and only the
/// SPIFFE IDs in `admin.allow` get an answer.
enum AdminServer {
    static func bind(runtime: SidecarRuntime, address: SocketAddressSpec, group: EventLoopGroup) async throws -> Channel {
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
        } catch {
            throw StartupError("cannot resolve admin address \(address): \(error)")
        }
        let api = AdminAPI(runtime: runtime)
        var mutualTLS: (reloader: IdentityReloader, allow: Set<String>)?
        if runtime.config.admin.tls == .mutual {
            guard let reloader = runtime.identityReloader else {
                throw StartupError("admin.tls is mutual but no identity is loaded")
            }
            mutualTLS = (reloader, Set(runtime.config.admin.allow))
        }
        let tls = mutualTLS
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls.reloader.current.admin))
                        try channel.pipeline.syncOperations.addHandler(AdminAuthorizationHandler(allow: tls.allow))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(api: api))
                }
            }
        do {
            return try await bootstrap.bind(to: socketAddress).get()
        } catch {
            throw StartupError("cannot bind admin listener on \(address): \(ProxyListener.describe(error))")
        }
    }
}

/// Collects one admin request (body bounded to 1 MiB), hands it to `AdminAPI`, writes the answer.
final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBody = 1024 * 1024
    private let api: AdminAPI
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(api: AdminAPI) {
        self.api = api
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            tooLarge = false
        case .body(var buffer):
            if body.readableBytes + buffer.readableBytes > Self.maxBody {
                tooLarge = true
            } else {
                body.writeBuffer(&buffer)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive
            let request = AdminRequest(method: head.method, uri: head.uri, body: body)
            let response: EventLoopFuture<AdminResponse>
            if tooLarge {
                response = context.eventLoop.makeSucceededFuture(.text(.payloadTooLarge, "request body over 1 MiB\n"))
            } else {
                response = api.handle(request, on: context.eventLoop)
            }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            response.whenComplete { result in
                let (handler, context) = loopBound.value
                let answer: AdminResponse
                switch result {
                case .success(let value): answer = value
                case .failure(let error): answer = .text(.internalServerError, "\(error)\n")
                }
                handler.write(answer, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func write(_ response: AdminResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.body.readableBytes))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.whenComplete { _ in context.close(promise: nil) }
        }
    }
}

struct AdminRequest {
    var method: HTTPMethod
    var uri: String
    var body: ByteBuffer
}

struct AdminResponse {
    var status: HTTPResponseStatus
    var contentType: String
    var body: ByteBuffer

    static func text(_ status: HTTPResponseStatus, _ text: String) -> AdminResponse {
        AdminResponse(status: status, contentType: "text/plain; charset=utf-8", body: ByteBuffer(string: text))
    }

    static func json(_ status: HTTPResponseStatus, _ bytes: [UInt8]) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: ByteBuffer(bytes: bytes))
    }
}

import Atomics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny in-process HTTP/1.1 application behind one demo sidecar: answers every request with a
/// one-line JSON echo, and can fail a share of requests with 503 (a flaky replica) or answer late
/// (a slow replica). It counts what it saw, so the demo can show the replica's own failure rate
/// and check that every request came through mTLS from the expected caller
/// (`x-forwarded-client-cert` set by its inbound sidecar).
final class DemoBackendApp: Sendable {
    struct Behaviour: Sendable {
        /// Share of requests answered 503 (0...1, in tenths: it is rounded to the nearest), in
        /// bursts as a sick replica fails: the last `failureRate × 10` of every 10 requests in a
        /// row (so consecutive-failure ejection reliably has something to see in a short demo,
        /// where independent coin flips might not).
        var failureRate: Double = 0
        /// Added to every response.
        var extraLatency: TimeAmount = .zero
    }

    let name: String
    let behaviour: Behaviour
    /// The caller's SPIFFE ID the inbound sidecar must name in `x-forwarded-client-cert`.
    let expectedCaller: String
    let requests = ManagedAtomic<Int>(0)
    let failures = ManagedAtomic<Int>(0)
    /// Requests whose `x-forwarded-client-cert` named `expectedCaller` (verified by the sidecar's mTLS).
    let authenticated = ManagedAtomic<Int>(0)
    private let server = DemoHTTPServer()

    init(name: String, behaviour: Behaviour = Behaviour(), expectedCaller: String) {
        self.name = name
        self.behaviour = behaviour
        self.expectedCaller = expectedCaller
    }

    /// Binds 127.0.0.1 on a free port; returns the port.
    func start(group: EventLoopGroup) async throws -> Int {
        try await server.start(group: group) { DemoBackendHandler(app: self) }
    }

    func stop() async {
        await server.stop()
    }

    /// Decides one request's fate and counts it: the status to answer with.
    func handle(_ head: HTTPRequestHead) -> HTTPResponseStatus {
        let index = requests.loadThenWrappingIncrement(ordering: .relaxed)
        if let xfcc = head.headers.first(name: "x-forwarded-client-cert"), xfcc.contains("URI=\(expectedCaller)") {
            authenticated.wrappingIncrement(ordering: .relaxed)
        }
        if index % 10 >= 10 - Int((behaviour.failureRate * 10).rounded()) {
            failures.wrappingIncrement(ordering: .relaxed)
            return .serviceUnavailable
        }
        return .ok
    }
}

/// One connection of a `DemoBackendApp`. Loop-bound.
final class DemoBackendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let app: DemoBackendApp
    private var head: HTTPRequestHead?

    init(app: DemoBackendApp) {
        self.app = app
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let status = app.handle(head)
            var body = ByteBuffer()
            body.writeString("{\"service\":\"\(app.name)\",\"status\":\(status.code),\"path\":")
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
            let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
            let delay = app.behaviour.extraLatency
            if delay > .zero {
                let handler = self
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                    handler.respond(context: context, head: response, body: body)
                }
            } else {
                respond(context: context, head: response, body: body)
            }
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPResponseHead, body: ByteBuffer) {
        guard context.channel.isActive else { return }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

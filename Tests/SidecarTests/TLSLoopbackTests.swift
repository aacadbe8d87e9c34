import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import Sidecar

/// Server side: reads only when it wants to (autoRead off), echoes, closes when the client half-closes.
private final class EchoServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let handshake: EventLoopPromise<TLSHandshakeCompleted>

    init(handshake: EventLoopPromise<TLSHandshakeCompleted>) {
        self.handshake = handshake
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let done = event as? TLSHandshakeCompleted {
            handshake.succeed(done)
            context.read()  // autoRead is off: ask for the first application data
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)  // sends what was written, then close_notify
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.read()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        handshake.fail(error)
        context.close(promise: nil)
    }
}

/// Client side: sends `payload`, half-closes, collects the echo until the server closes.
private final class EchoClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let payload: [UInt8]
    let result: EventLoopPromise<(TLSHandshakeCompleted, ByteBuffer)>
    var handshake: TLSHandshakeCompleted?
    var received = ByteBuffer()

    init(payload: [UInt8], result: EventLoopPromise<(TLSHandshakeCompleted, ByteBuffer)>) {
        self.payload = payload
        self.result = result
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let done = event as? TLSHandshakeCompleted else { return }
        handshake = done
        context.writeAndFlush(NIOAny(ByteBuffer(bytes: payload)), promise: nil)
        context.close(mode: .output, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received.writeBuffer(&buffer)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let handshake {
            result.succeed((handshake, received))
        } else {
            result.fail(TLSError(kind: .closedDuringHandshake, message: "closed before handshake"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        result.fail(error)
        context.close(promise: nil)
    }
}

final class TLSLoopbackTests: XCTestCase {
    func testMutualTLSOverLoopbackWithHalfCloseAndBackpressure() throws {
        let mesh = try TLSTestMesh()
        let serverContext = try TLSContext.server(identity: mesh.issueIdentity("server"), alpn: ["h2", "http/1.1"])
        let clientContext = try TLSContext.client(identity: mesh.issueIdentity("client"), alpn: ["http/1.1"])
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let serverHandshake = group.next().makePromise(of: TLSHandshakeCompleted.self)

        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        OpenSSLHandler(context: serverContext), EchoServerHandler(handshake: serverHandshake),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }

        let payload = tlsTestPattern(count: 3 * 1024 * 1024, seed: 9)
        let result = group.next().makePromise(of: (TLSHandshakeCompleted, ByteBuffer).self)
        let expected = [mesh.spiffeID("server")]
        let client = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        OpenSSLHandler(
                            context: clientContext, serverName: "server",
                            expectedPeerIdentities: expected),
                        EchoClientHandler(payload: payload, result: result),
                    ])
                }
            }
            .connect(to: server.localAddress!).wait()

        let (clientSide, echoed) = try result.futureResult.wait()
        try client.closeFuture.wait()
        let serverSide = try serverHandshake.futureResult.wait()
        XCTAssertEqual(clientSide.peerIdentity?.description, mesh.spiffeID("server"))
        XCTAssertEqual(serverSide.peerIdentity?.description, mesh.spiffeID("client"))
        XCTAssertEqual(clientSide.negotiatedALPN, "http/1.1")
        XCTAssertEqual(clientSide.protocolVersion, "TLSv1.3")
        XCTAssertEqual(echoed.readableBytes, payload.count)
        XCTAssertTrue(tlsSameBytes(echoed, payload))
    }
}

import Foundation
import NIOCore
import NIOEmbedded
import XCTest

@testable import Sidecar

final class TLSHandshakeTests: XCTestCase {
    private var mesh: TLSTestMesh!
    private var serverIdentity: TLSIdentity!
    private var clientIdentity: TLSIdentity!

    override func setUpWithError() throws {
        mesh = try TLSTestMesh()
        serverIdentity = try mesh.issueIdentity("server")
        clientIdentity = try mesh.issueIdentity("client")
    }

    override func tearDown() {
        mesh = nil
        serverIdentity = nil
        clientIdentity = nil
    }

    private func makePair(
        serverContext: TLSContext? = nil, clientContext: TLSContext? = nil, expected: [String] = [],
        serverName: String? = "server"
    ) throws -> TLSEmbeddedPair {
        let server = try serverContext ?? TLSContext.server(identity: serverIdentity, alpn: ["h2", "http/1.1"])
        let client = try clientContext ?? TLSContext.client(identity: clientIdentity, alpn: ["http/1.1", "h2"])
        return try TLSEmbeddedPair(
            client: OpenSSLHandler(context: client, serverName: serverName, expectedPeerIdentities: expected),
            server: OpenSSLHandler(context: server))
    }

    func testMutualTLS13HandshakeWithDataBothWays() throws {
        let pair = try makePair()
        defer { pair.finish() }
        // Written before the handshake completes: buffered, then sent in order.
        pair.writeFromClient(Array("hello ".utf8))
        pair.writeFromClient(Array("server".utf8))
        try pair.pump()

        XCTAssertEqual(pair.clientRecorder.errors.count, 0, "\(pair.clientRecorder.errors)")
        XCTAssertEqual(pair.serverRecorder.errors.count, 0, "\(pair.serverRecorder.errors)")
        let clientSide = try XCTUnwrap(pair.clientRecorder.handshakes.first)
        let serverSide = try XCTUnwrap(pair.serverRecorder.handshakes.first)
        XCTAssertEqual(clientSide.peerIdentity?.description, mesh.spiffeID("server"))
        XCTAssertEqual(serverSide.peerIdentity?.description, mesh.spiffeID("client"))
        // The server's preference wins among what the client offered.
        XCTAssertEqual(clientSide.negotiatedALPN, "h2")
        XCTAssertEqual(serverSide.negotiatedALPN, "h2")
        XCTAssertEqual(clientSide.protocolVersion, "TLSv1.3")
        XCTAssertEqual(serverSide.protocolVersion, "TLSv1.3")
        XCTAssertFalse(clientSide.resumed)
        XCTAssertEqual(pair.clientHandler.handshakeResult, clientSide)

        XCTAssertEqual(String(buffer: pair.serverRecorder.received), "hello server")
        pair.writeFromServer(Array("hello client".utf8))
        try pair.pump()
        XCTAssertEqual(String(buffer: pair.clientRecorder.received), "hello client")

        // The first record the client sent is a ClientHello.
        let first = try XCTUnwrap(pair.clientWire.first)
        XCTAssertEqual(OpenSSLHandler.isTLSClientHello(first), true)
    }

    /// Ciphertext and plaintext buffers are reused between records only once nobody else holds
    /// them. Every other buffer is kept (as a handler further down, or a write still in flight,
    /// would): the kept ones keep their bytes however many records follow, and the storage of each
    /// one let go of is where the next record goes.
    func testBuffersAreReusedOnlyWhenNobodyHoldsThem() throws {
        let pair = try makePair()
        defer { pair.finish() }
        pair.writeFromClient(Array("warm".utf8))
        try pair.pump()
        pair.clientWire.removeAll()
        pair.clientWireBytes.removeAll()
        let serverReadsBefore = pair.serverRecorder.readCount
        pair.serverRecorder.retains = { ($0 - serverReadsBefore) % 2 == 0 }
        pair.clientRecorder.retains = { $0 % 2 == 0 }
        var keptWire: [(buffer: ByteBuffer, bytes: [UInt8])] = []
        var wireAddresses: [UInt] = []
        for round in 0..<20 {
            pair.writeFromClient(Array("request \(round)".utf8))
            try pair.pump()
            XCTAssertEqual(pair.clientWire.count, 1, "one record a request")
            wireAddresses.append(pair.clientWire[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) })
            if round % 2 == 0 { keptWire.append((pair.clientWire[0], pair.clientWireBytes[0])) }
            pair.clientWire.removeAll()
            pair.clientWireBytes.removeAll()
            pair.writeFromServer(Array("response \(round)".utf8))
            try pair.pump()
        }
        XCTAssertEqual(pair.serverRecorder.retained.count, 10)
        XCTAssertEqual(pair.clientRecorder.retained.count, 10)
        for recorder in [pair.serverRecorder, pair.clientRecorder] {
            for read in recorder.retained {
                XCTAssertEqual(Array(read.buffer.readableBytesView), read.bytes, "plaintext \(read.index) was overwritten")
            }
        }
        for (index, wire) in keptWire.enumerated() {
            XCTAssertEqual(Array(wire.buffer.readableBytesView), wire.bytes, "ciphertext \(index) was overwritten")
        }
        // A record after one that was let go of lands in its storage; after a kept one, elsewhere.
        let serverAddresses = Array(pair.serverRecorder.addresses.suffix(20))
        for round in 1..<20 {
            if round % 2 == 0 {
                XCTAssertEqual(serverAddresses[round], serverAddresses[round - 1], "plaintext \(round)")
                XCTAssertEqual(wireAddresses[round], wireAddresses[round - 1], "ciphertext \(round)")
            } else {
                XCTAssertNotEqual(serverAddresses[round], serverAddresses[round - 1], "plaintext \(round)")
                XCTAssertNotEqual(wireAddresses[round], wireAddresses[round - 1], "ciphertext \(round)")
            }
        }
    }

    /// Where the server read two records into: after a warm-up, "one", then (after `between`)
    /// "two"; nobody keeps the buffers. A buffer the size of the first is made between the two, so
    /// that, had the first one's memory been freed, malloc would hand it to that buffer.
    private func addressesOfTwoReads(between: (TLSEmbeddedPair) -> Void = { _ in }) throws -> (first: UInt, second: UInt, blocker: UInt) {
        let pair = try makePair()
        defer { pair.finish() }
        for text in ["warm", "one"] {
            pair.writeFromClient(Array(text.utf8))
            try pair.pump()
        }
        let first = try XCTUnwrap(pair.serverRecorder.addresses.last)
        between(pair)
        let blocker = ByteBufferAllocator().buffer(capacity: 256)
        pair.writeFromClient(Array("two".utf8))
        try pair.pump()
        XCTAssertEqual(String(buffer: pair.serverRecorder.received), "warmonetwo")
        XCTAssertEqual(pair.serverRecorder.errors.count, 0)
        let second = try XCTUnwrap(pair.serverRecorder.addresses.last)
        return (first, second, blocker.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) })
    }

    /// A small plaintext buffer nobody kept is read into again on the next read.
    func testASmallPlaintextBufferIsReusedAcrossReads() throws {
        let reads = try addressesOfTwoReads()
        XCTAssertEqual(reads.second, reads.first)
        XCTAssertNotEqual(reads.blocker, reads.first)
    }

    /// `ConnectionIdleEvent` makes the handler let go of the buffer it kept: the next read gets
    /// another.
    func testAnIdleConnectionLetsGoOfItsKeptBuffers() throws {
        let reads = try addressesOfTwoReads { $0.server.pipeline.triggerUserOutboundEvent(ConnectionIdleEvent(), promise: nil) }
        XCTAssertNotEqual(reads.second, reads.first)
    }

    func testALPNWithoutCommonProtocolAndWithoutALPN() throws {
        let server = try TLSContext.server(identity: serverIdentity, alpn: ["h2"])
        let client = try TLSContext.client(identity: clientIdentity, alpn: ["http/1.1"])
        let pair = try makePair(serverContext: server, clientContext: client)
        defer { pair.finish() }
        try pair.pump()
        XCTAssertEqual(pair.clientRecorder.handshakes.first?.negotiatedALPN, nil)
        XCTAssertNotNil(pair.serverRecorder.handshakes.first)

        let plain = try makePair(
            serverContext: TLSContext.server(identity: serverIdentity),
            clientContext: TLSContext.client(identity: clientIdentity))
        defer { plain.finish() }
        try plain.pump()
        XCTAssertNotNil(plain.clientRecorder.handshakes.first)
        XCTAssertNil(plain.clientRecorder.handshakes.first?.negotiatedALPN)
    }

    func testIsTLSClientHello() {
        XCTAssertNil(OpenSSLHandler.isTLSClientHello(ByteBuffer()))
        XCTAssertNil(OpenSSLHandler.isTLSClientHello(ByteBuffer(bytes: [0x16])))
        XCTAssertNil(OpenSSLHandler.isTLSClientHello(ByteBuffer(bytes: [0x16, 0x03])))
        XCTAssertEqual(OpenSSLHandler.isTLSClientHello(ByteBuffer(bytes: [0x16, 0x03, 0x01])), true)
        XCTAssertEqual(OpenSSLHandler.isTLSClientHello(ByteBuffer(string: "GET / HTTP/1.1\r\n")), false)
        XCTAssertEqual(OpenSSLHandler.isTLSClientHello(ByteBuffer(string: "PRI * HTTP/2.0")), false)
        XCTAssertEqual(OpenSSLHandler.isTLSClientHello(ByteBuffer(bytes: [0x16, 0x01])), false)
    }

    func testServerRefusesClientWithoutCertificate() throws {
        let client = try TLSContext.clientWithoutCertificate(identity: clientIdentity)
        let pair = try makePair(clientContext: client)
        defer { pair.finish() }
        try pair.pump()
        XCTAssertTrue(pair.serverRecorder.handshakes.isEmpty)
        let serverError = try XCTUnwrap(pair.serverRecorder.tlsErrors.first)
        XCTAssertEqual(serverError.kind, .handshakeFailed)
        XCTAssertTrue("\(serverError)".contains("certificate"), "\(serverError)")
        XCTAssertFalse(pair.server.isActive)
        // TLS 1.3: the client learns from the server's alert.
        let clientError = try XCTUnwrap(pair.clientRecorder.tlsErrors.first)
        XCTAssertTrue("\(clientError)".contains("alert"), "\(clientError)")
        XCTAssertFalse(pair.client.isActive)
    }

    func testOptionalClientCertificate() throws {
        let server = try TLSContext.server(identity: serverIdentity, requireClientCertificate: false)
        let client = try TLSContext.clientWithoutCertificate(identity: clientIdentity)
        let pair = try makePair(serverContext: server, clientContext: client)
        defer { pair.finish() }
        try pair.pump()
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
        let serverSide = try XCTUnwrap(pair.serverRecorder.handshakes.first)
        XCTAssertNil(serverSide.peerIdentity)
    }

    func testCertificateFromAnotherCAIsRefusedBothWays() throws {
        // Same trust domain name, independent CA.
        let otherMesh = try TLSTestMesh()
        try otherMesh.issue("stranger")
        let bothBundle = try String(contentsOfFile: mesh.dir.file("ca.pem"), encoding: .utf8)
            + String(contentsOfFile: otherMesh.dir.file("ca.pem"), encoding: .utf8)
        try bothBundle.write(toFile: otherMesh.dir.file("both.pem"), atomically: true, encoding: .utf8)
        // The stranger trusts our server, but our server does not trust the stranger's CA.
        let stranger = try TLSIdentity(
            certificatePath: otherMesh.dir.file("stranger.pem"), privateKeyPath: otherMesh.dir.file("stranger-key.pem"),
            trustBundlePath: otherMesh.dir.file("both.pem"))

        let pair = try makePair(clientContext: TLSContext.client(identity: stranger))
        defer { pair.finish() }
        try pair.pump()
        XCTAssertTrue(pair.serverRecorder.handshakes.isEmpty)
        let serverError = try XCTUnwrap(pair.serverRecorder.tlsErrors.first)
        XCTAssertEqual(serverError.kind, .handshakeFailed)
        XCTAssertTrue(serverError.message.contains("not trusted"), "\(serverError)")
        XCTAssertFalse(pair.server.isActive)
        XCTAssertFalse(pair.clientRecorder.tlsErrors.isEmpty)  // the alert reached the client

        // Server from another CA: the client refuses, before any handshake event.
        let pair2 = try makePair(serverContext: TLSContext.server(identity: stranger))
        defer { pair2.finish() }
        try pair2.pump()
        XCTAssertTrue(pair2.clientRecorder.handshakes.isEmpty)
        let clientError = try XCTUnwrap(pair2.clientRecorder.tlsErrors.first)
        XCTAssertEqual(clientError.kind, .handshakeFailed)
        XCTAssertTrue(clientError.message.contains("not trusted"), "\(clientError)")
        XCTAssertFalse(pair2.client.isActive)
        XCTAssertTrue(pair2.serverRecorder.handshakes.isEmpty)
    }

    func testExpectedIdentityMismatch() throws {
        let pair = try makePair(expected: [mesh.spiffeID("payments")])
        defer { pair.finish() }
        try pair.pump()
        XCTAssertTrue(pair.clientRecorder.handshakes.isEmpty)
        let error = try XCTUnwrap(pair.clientRecorder.tlsErrors.first)
        XCTAssertEqual(error.kind, .peerIdentityRejected)
        XCTAssertTrue(error.message.contains(mesh.spiffeID("server")), error.message)
        XCTAssertTrue(error.message.contains(mesh.spiffeID("payments")), error.message)
        XCTAssertFalse(pair.client.isActive)
        XCTAssertTrue(pair.serverRecorder.handshakes.isEmpty)

        let ok = try makePair(expected: [mesh.spiffeID("payments"), mesh.spiffeID("server")])
        defer { ok.finish() }
        try ok.pump()
        XCTAssertEqual(ok.clientRecorder.handshakes.first?.peerIdentity?.description, mesh.spiffeID("server"))
    }

    func testPeerFromAnotherTrustDomainIsRefused() throws {
        // A bundle trusting two CAs, but the peer's identity is in the other trust domain.
        let other = try TLSTestMesh(trustDomain: "other.td")
        let bundle = try String(contentsOfFile: mesh.dir.file("ca.pem"), encoding: .utf8)
            + String(contentsOfFile: other.dir.file("ca.pem"), encoding: .utf8)
        try bundle.write(toFile: mesh.dir.file("both.pem"), atomically: true, encoding: .utf8)
        try other.issue("foreign")
        let foreign = try TLSIdentity(
            certificatePath: other.dir.file("foreign.pem"), privateKeyPath: other.dir.file("foreign-key.pem"),
            trustBundlePath: mesh.dir.file("both.pem"))
        let pair = try makePair(clientContext: TLSContext.client(identity: foreign))
        defer { pair.finish() }
        try pair.pump()
        // The client (trust domain other.td) refuses the server's mesh.local identity.
        let error = try XCTUnwrap(pair.clientRecorder.tlsErrors.first)
        XCTAssertEqual(error.kind, .peerIdentityRejected)
        XCTAssertTrue(error.message.contains("spiffe://mesh.local/ns/default/sa/server"), error.message)
        XCTAssertTrue(error.message.contains("trust domain other.td"), error.message)
        XCTAssertTrue(pair.serverRecorder.handshakes.isEmpty)
    }

    func testSessionResumption() throws {
        let server = try TLSContext.server(identity: serverIdentity, alpn: ["h2"])
        let client = try TLSContext.client(identity: clientIdentity, alpn: ["h2"])

        let first = try makePair(serverContext: server, clientContext: client)
        try first.pump()
        XCTAssertEqual(first.clientRecorder.handshakes.first?.resumed, false)
        XCTAssertGreaterThan(client.cachedSessionCount, 0, "no TLS 1.3 ticket was cached")
        first.finish()

        let second = try makePair(serverContext: server, clientContext: client)
        defer { second.finish() }
        second.writeFromClient(Array("again".utf8))
        try second.pump()
        let clientSide = try XCTUnwrap(second.clientRecorder.handshakes.first)
        let serverSide = try XCTUnwrap(second.serverRecorder.handshakes.first)
        XCTAssertTrue(clientSide.resumed)
        XCTAssertTrue(serverSide.resumed)
        // Identities are still reported on a resumed session.
        XCTAssertEqual(clientSide.peerIdentity?.description, mesh.spiffeID("server"))
        XCTAssertEqual(serverSide.peerIdentity?.description, mesh.spiffeID("client"))
        XCTAssertEqual(clientSide.negotiatedALPN, "h2")
        XCTAssertEqual(String(buffer: second.serverRecorder.received), "again")

        // A different server key does not resume.
        let third = try makePair(serverContext: server, clientContext: client, serverName: "elsewhere")
        defer { third.finish() }
        try third.pump()
        XCTAssertEqual(third.clientRecorder.handshakes.first?.resumed, false)
    }

    func testTLS12WhenAllowed() throws {
        let server = try TLSContext.server(identity: serverIdentity, minimumVersion: .tls12)
        let client = try TLSContext.client(identity: clientIdentity, minimumVersion: .tls12)
        let pair = try makePair(serverContext: server, clientContext: client)
        defer { pair.finish() }
        try pair.pump()
        XCTAssertEqual(pair.clientRecorder.handshakes.first?.protocolVersion, "TLSv1.3")

        // A TLS 1.2-only peer is refused by a default (TLS 1.3 minimum) server.
        let old = try TLSContext.client(identity: clientIdentity, minimumVersion: .tls12, maximumVersion: .tls12)
        let refused = try makePair(clientContext: old)
        defer { refused.finish() }
        try refused.pump()
        XCTAssertTrue(refused.serverRecorder.handshakes.isEmpty)
        XCTAssertFalse(refused.serverRecorder.tlsErrors.isEmpty)

        let twelve = try makePair(serverContext: server, clientContext: old)
        defer { twelve.finish() }
        twelve.writeFromClient(Array("v1.2".utf8))
        try twelve.pump()
        XCTAssertEqual(twelve.clientRecorder.handshakes.first?.protocolVersion, "TLSv1.2")
        XCTAssertEqual(twelve.serverRecorder.handshakes.first?.peerIdentity?.description, mesh.spiffeID("client"))
        XCTAssertEqual(String(buffer: twelve.serverRecorder.received), "v1.2")
    }

    func testLargeTransferBothWays() throws {
        let pair = try makePair()
        defer { pair.finish() }
        try pair.pump()
        let up = tlsTestPattern(count: 5 * 1024 * 1024 + 123, seed: 1)
        let down = tlsTestPattern(count: 4 * 1024 * 1024 + 7, seed: 2)
        // Mixed write sizes, some promises checked.
        var offset = 0
        var chunk = 1
        var promises: [EventLoopFuture<Void>] = []
        while offset < up.count {
            let end = min(up.count, offset + chunk)
            let promise = pair.client.eventLoop.makePromise(of: Void.self)
            pair.client.write(ByteBuffer(bytes: up[offset..<end]), promise: promise)
            promises.append(promise.futureResult)
            offset = end
            chunk = chunk >= 300_000 ? 1 : chunk * 7
            if promises.count % 5 == 0 { pair.client.flush() }
        }
        pair.client.flush()
        pair.server.writeAndFlush(ByteBuffer(bytes: down), promise: nil)
        try pair.pump()
        for future in promises { XCTAssertNoThrow(try future.wait()) }
        XCTAssertEqual(pair.serverRecorder.received.readableBytes, up.count)
        XCTAssertEqual(pair.clientRecorder.received.readableBytes, down.count)
        XCTAssertTrue(tlsSameBytes(pair.serverRecorder.received, up))
        XCTAssertTrue(tlsSameBytes(pair.clientRecorder.received, down))
        XCTAssertTrue(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    func testCloseSendsCloseNotifyAndPeerCloses() throws {
        let pair = try makePair()
        defer { pair.finish() }
        try pair.pump()
        let closed = pair.client.close()
        // The client wrote close_notify before closing.
        let closeNotify = try XCTUnwrap(try pair.client.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(closeNotify.getInteger(at: closeNotify.readerIndex, as: UInt8.self), 0x17)  // TLS 1.3: wrapped alert
        XCTAssertNoThrow(try closed.wait())
        XCTAssertFalse(pair.client.isActive)
        try pair.server.writeInbound(closeNotify)
        // Without remote half-closure the server answers with its own close_notify and closes.
        XCTAssertFalse(pair.server.isActive)
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
        XCTAssertNotNil(try pair.server.readOutbound(as: ByteBuffer.self))
    }

    func testCloseDoesNotWaitForeverForAStuckWrite() throws {
        let pair = try makePair()
        defer { pair.finish() }
        try pair.pump()
        // A head-side handler that never completes writes: a peer that stopped reading.
        let stuck = TLSStuckWrites()
        try pair.client.pipeline.syncOperations.addHandler(stuck, position: .first)
        let closed = pair.client.close()
        XCTAssertTrue(pair.client.isActive)
        XCTAssertEqual(stuck.held.count, 1)  // the close_notify
        pair.client.embeddedEventLoop.advanceTime(by: .seconds(5))
        XCTAssertNoThrow(try closed.wait())
        XCTAssertFalse(pair.client.isActive)
        for promise in stuck.held { promise.fail(ChannelError.ioOnClosedChannel) }
    }

    func testHalfClose() throws {
        let pair = try makePair()
        defer { pair.finish() }
        try pair.server.setOption(.allowRemoteHalfClosure, value: true).wait()
        // EmbeddedChannel closes fully on close(mode: .output): stand in for a socket that half-closes.
        let socket = TLSHalfCloseRecorder()
        try pair.client.pipeline.syncOperations.addHandler(socket, position: .first)
        try pair.pump()
        pair.writeFromClient(Array("request".utf8))
        let halfClosed = pair.client.close(mode: .output)
        try pair.pump()
        XCTAssertNoThrow(try halfClosed.wait())
        XCTAssertEqual(socket.outputCloses, 1)
        XCTAssertTrue(pair.serverRecorder.inputClosed)
        XCTAssertEqual(String(buffer: pair.serverRecorder.received), "request")
        XCTAssertTrue(pair.server.isActive)
        // The server can still answer.
        pair.writeFromServer(Array("response".utf8))
        try pair.pump()
        XCTAssertEqual(String(buffer: pair.clientRecorder.received), "response")
        XCTAssertTrue(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    func testGarbageFailsHandshakeWithOpenSSLReason() throws {
        let server = EmbeddedChannel()
        let recorder = TLSEventRecorder()
        try server.pipeline.syncOperations.addHandlers([
            OpenSSLHandler(context: TLSContext.server(identity: serverIdentity)), recorder,
        ])
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try server.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        let error = try XCTUnwrap(recorder.tlsErrors.first)
        XCTAssertEqual(error.kind, .handshakeFailed)
        XCTAssertFalse(error.openSSLReasons.isEmpty)
        XCTAssertTrue(error.description.contains("http request"), error.description)
        XCTAssertFalse(server.isActive)
        _ = try? server.finish()
    }

    func testReadsOnlyWhenTheApplicationAsks() throws {
        let pair = try makePair()
        defer { pair.finish() }
        let reads = TLSReadCounter()
        try pair.server.pipeline.syncOperations.addHandler(reads, position: .first)
        try pair.pump()
        XCTAssertFalse(pair.serverRecorder.handshakes.isEmpty)
        // The handshake asked for reads by itself; after it, nothing unless the application asks.
        let afterHandshake = reads.count
        pair.writeFromClient(Array("one".utf8))
        try pair.pump()
        XCTAssertEqual(reads.count, afterHandshake)
        XCTAssertEqual(String(buffer: pair.serverRecorder.received), "one")

        pair.server.read()
        XCTAssertEqual(reads.count, afterHandshake + 1)
        pair.writeFromClient(Array("two".utf8))
        try pair.pump()
        XCTAssertEqual(reads.count, afterHandshake + 1)
        XCTAssertEqual(String(buffer: pair.serverRecorder.received), "onetwo")
    }

    func testClientStartsHandshakeWhenAddedToActiveChannel() throws {
        let client = EmbeddedChannel()
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try client.pipeline.syncOperations.addHandler(
            OpenSSLHandler(context: TLSContext.client(identity: clientIdentity), serverName: "server"))
        let hello = try XCTUnwrap(try client.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(OpenSSLHandler.isTLSClientHello(hello), true)
        // SNI is in the ClientHello.
        XCTAssertNotNil(String(buffer: hello).range(of: "server"))
        _ = try? client.finish()
    }

    func testClosedDuringHandshake() throws {
        let client = EmbeddedChannel()
        let recorder = TLSEventRecorder()
        try client.pipeline.syncOperations.addHandlers([
            OpenSSLHandler(context: TLSContext.client(identity: clientIdentity)), recorder,
        ])
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        XCTAssertNotNil(try client.readOutbound(as: ByteBuffer.self))  // ClientHello
        let pending = client.eventLoop.makePromise(of: Void.self)
        client.writeAndFlush(ByteBuffer(string: "early"), promise: pending)
        client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertEqual(recorder.tlsErrors.first?.kind, .closedDuringHandshake)
        XCTAssertThrowsError(try pending.futureResult.wait())
        XCTAssertFalse(client.isActive)
        _ = try? client.finish()
    }
}

/// Swallows `close(mode: .output)` like a socket that shut down its write side.
final class TLSHalfCloseRecorder: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var outputCloses = 0

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output {
            outputCloses += 1
            promise?.succeed()
        } else {
            context.close(mode: mode, promise: promise)
        }
    }
}

/// Counts `read()` calls reaching the network side.
final class TLSReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

/// Holds write promises without completing them.
final class TLSStuckWrites: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var held: [EventLoopPromise<Void>] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let promise { held.append(promise) } else { held.append(context.eventLoop.makePromise()) }
    }
}

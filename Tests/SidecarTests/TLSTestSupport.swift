import Foundation
import NIOCore
import NIOEmbedded
import XCTest

@testable import Sidecar

/// A fresh temporary directory per test, removed on deinit.
final class TLSTemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "sidecar-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Records what reaches the end of a pipeline.
final class TLSEventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var received = ByteBuffer()
    var handshakes: [TLSHandshakeCompleted] = []
    var errors: [Error] = []
    var inputClosed = false
    var readCount = 0
    /// Where the bytes of each buffer read lived.
    var addresses: [UInt] = []
    /// Which reads (by index from 0) are kept, with a copy of their bytes as they arrived: a
    /// handler further down that holds on to what it was given.
    var retains: (Int) -> Bool = { _ in false }
    var retained: [(index: Int, buffer: ByteBuffer, bytes: [UInt8])] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if retains(readCount) { retained.append((readCount, buffer, Array(buffer.readableBytesView))) }
        readCount += 1
        addresses.append(buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) })
        received.writeBuffer(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { handshakes.append(event) }
        if let event = event as? ChannelEvent, event == .inputClosed { inputClosed = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        errors.append(error)
    }

    var tlsErrors: [TLSError] { errors.compactMap { $0 as? TLSError } }
}

/// A client and a server `OpenSSLHandler` on two `EmbeddedChannel`s, bytes moved by `pump()`.
final class TLSEmbeddedPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientRecorder = TLSEventRecorder()
    let serverRecorder = TLSEventRecorder()
    let clientHandler: OpenSSLHandler
    let serverHandler: OpenSSLHandler
    /// Every ciphertext buffer the client sent, in order (to look at the first record).
    var clientWire: [ByteBuffer] = []
    /// The bytes of each of `clientWire` as they were sent.
    var clientWireBytes: [[UInt8]] = []

    init(client clientHandler: OpenSSLHandler, server serverHandler: OpenSSLHandler) throws {
        self.clientHandler = clientHandler
        self.serverHandler = serverHandler
        try client.pipeline.syncOperations.addHandlers([clientHandler, clientRecorder])
        try server.pipeline.syncOperations.addHandlers([serverHandler, serverRecorder])
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 15006)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()
    }

    /// Moves ciphertext both ways until neither side has anything more to send.
    func pump(maxRounds: Int = 10_000) throws {
        for _ in 0..<maxRounds {
            var moved = false
            while let buffer = try client.readOutbound(as: ByteBuffer.self) {
                clientWire.append(buffer)
                clientWireBytes.append(Array(buffer.readableBytesView))
                moved = true
                if server.isActive { try server.writeInbound(buffer) }
            }
            while let buffer = try server.readOutbound(as: ByteBuffer.self) {
                moved = true
                if client.isActive { try client.writeInbound(buffer) }
            }
            if !moved { return }
        }
        XCTFail("pump did not settle")
    }

    func writeFromClient(_ bytes: [UInt8]) {
        client.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    func writeFromServer(_ bytes: [UInt8]) {
        server.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    func finish() {
        _ = try? client.finish()
        _ = try? server.finish()
    }
}

/// A CA with `server` and `client` leaf certificates in a temporary directory.
final class TLSTestMesh {
    let dir: TLSTemporaryDirectory
    let trustDomain: String

    init(trustDomain: String = "mesh.local") throws {
        dir = try TLSTemporaryDirectory()
        self.trustDomain = trustDomain
        try MeshCertificateAuthority.initialize(directory: dir.path, trustDomain: trustDomain)
    }

    @discardableResult
    func issue(_ name: String, spiffeID: String? = nil, days: Int = 30) throws -> IssuedCertificateFiles {
        try MeshCertificateAuthority.issue(directory: dir.path, name: name, spiffeID: spiffeID, days: days)
    }

    func identity(_ name: String) throws -> TLSIdentity {
        try TLSIdentity(
            certificatePath: dir.file("\(name).pem"), privateKeyPath: dir.file("\(name)-key.pem"),
            trustBundlePath: dir.file("ca.pem"))
    }

    func issueIdentity(_ name: String, spiffeID: String? = nil) throws -> TLSIdentity {
        try issue(name, spiffeID: spiffeID)
        return try identity(name)
    }

    func spiffeID(_ name: String) -> String { "spiffe://\(trustDomain)/ns/default/sa/\(name)" }
}

/// Deterministic test payload: a pseudo-random block of prime length, repeated (cheap in debug builds).
func tlsTestPattern(count: Int, seed: UInt8) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 4093)
    var x = UInt32(seed) &+ 1
    for i in 0..<block.count {
        x = x &* 1_103_515_245 &+ 12345
        block[i] = UInt8(truncatingIfNeeded: x >> 16)
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + block.count)
    while bytes.count < count { bytes.append(contentsOf: block) }
    bytes.removeLast(bytes.count - count)
    return bytes
}

/// Byte-exact comparison without a per-element loop.
func tlsSameBytes(_ buffer: ByteBuffer, _ bytes: [UInt8]) -> Bool {
    guard buffer.readableBytes == bytes.count else { return false }
    return buffer.withUnsafeReadableBytes { a in
        bytes.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, b.count) == 0 }
    }
}

import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

@testable import Sidecar

final class HTTP2UpstreamConnectionTests: XCTestCase {
    /// An exchange's view of its stream: records the failure, and whether the connection would
    /// take another stream at that moment (what an exchange retrying at once would be given).
    private final class Exchange: UpstreamStreamDelegate {
        let connection: HTTP2UpstreamConnection
        var failure: UpstreamFailure?
        var connectionTookStreamsWhenFailing: Bool?

        init(connection: HTTP2UpstreamConnection) { self.connection = connection }

        func upstreamResponseHead(_ head: consuming ProxyResponseHead) {}
        func upstreamResponseBody(_ buffer: ByteBuffer) {}
        func upstreamResponseEnd(_ trailers: HTTPHeaders?) {}
        func upstreamFailed(_ failure: UpstreamFailure) {
            self.failure = failure
            connectionTookStreamsWhenFailing = connection.hasCapacity
        }
        func upstreamWritabilityChanged() {}
        func upstreamReadComplete() {}
    }

    /// A connection that fails tells its streams so only once it takes no new ones: an exchange
    /// that retries at once (a zero backoff) must get another connection, not a stream here that
    /// nothing would ever end.
    func testAFailingConnectionTakesNoStreamsWhileItFailsThem() {
        let loop = EmbeddedEventLoop()
        let connection = HTTP2UpstreamConnection(eventLoop: loop, owner: nil, secure: false, onClose: { _ in })
        XCTAssertTrue(connection.hasCapacity, "a connecting connection takes streams")
        let exchange = Exchange(connection: connection)
        let stream = connection.makeStream(delegate: exchange)
        stream.sendRequestHead(ProxyRequestHead(method: .GET, uri: "/", fields: ["host": "svc"]), hasBody: false)
        XCTAssertNotEqual(stream.streamID, 0, "queued in nghttp2 until the connection is up")
        connection.connectFailed("refused")
        XCTAssertNotNil(exchange.failure)
        XCTAssertEqual(exchange.connectionTookStreamsWhenFailing, false)
        XCTAssertNil(stream.delegate, "the stream let go of its exchange")
    }

    /// nghttp2 could not create a session (it is out of memory): the connection takes no streams
    /// and closes its channel at once, so it holds neither a socket nor its pool slot (`close()`
    /// does nothing for a connection in this state, so nothing else would close it).
    func testAConnectionWithoutASessionClosesItsChannel() throws {
        struct OutOfMemory: Error {}
        let channel = EmbeddedChannel()
        var closed = 0
        let connection = HTTP2UpstreamConnection(
            eventLoop: channel.eventLoop, owner: nil, secure: false,
            makeSession: { throw OutOfMemory() }, onClose: { _ in closed += 1 })
        XCTAssertFalse(connection.hasCapacity)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.pipeline.syncOperations.addHandler(connection)
        XCTAssertFalse(channel.isActive, "the channel is closed as soon as the connection is added")
        XCTAssertEqual(closed, 1, "the pool hears that the connection is gone")
    }
}

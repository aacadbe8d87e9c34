import NIOCore
import NIOHTTP1
import XCTest

@testable import Sidecar

/// Collects what one side's session reports.
private final class Recorder: NGHTTP2SessionDelegate {
    var blocks: [(Int32, HTTP2HeaderBlock, Bool)] = []
    var data: [Int32: Int] = [:]
    var ended: Set<Int32> = []
    var closed: [Int32: UInt32] = [:]
    var resets = 0

    func sessionReceivedHeaders(_ block: consuming HTTP2HeaderBlock, streamID: Int32, endStream: Bool) {
        blocks.append((streamID, block, endStream))
        if endStream { ended.insert(streamID) }
    }
    func sessionReceivedData(_ bytes: UnsafeRawBufferPointer, streamID: Int32) { data[streamID, default: 0] += bytes.count }
    func sessionReceivedEndOfStream(streamID: Int32) { ended.insert(streamID) }
    func sessionReceivedEmptyData(streamID: Int32) {}
    func sessionReceivedReset(streamID: Int32, errorCode: UInt32) { resets += 1 }
    func sessionReceivedGoAway(lastStreamID: Int32, errorCode: UInt32) {}
    func sessionReceivedSettings() {}
    func sessionStreamClosed(streamID: Int32, errorCode: UInt32) { closed[streamID] = errorCode }
    func sessionHeadersNotSent(streamID: Int32) {}
}

final class HTTP2SessionTests: XCTestCase {
    private func pump(_ client: NGHTTP2Session, _ server: NGHTTP2Session) throws {
        for _ in 0..<100 {
            var toServer = ByteBuffer()
            try client.drainOutput(into: &toServer, limit: 1 << 20)
            if toServer.readableBytes > 0 { try server.receive(toServer) }
            var toClient = ByteBuffer()
            try server.drainOutput(into: &toClient, limit: 1 << 20)
            if toClient.readableBytes > 0 { try client.receive(toClient) }
            if toServer.readableBytes == 0, toClient.readableBytes == 0 { return }
        }
    }

    /// A request id (new in every message) goes out as an HPACK literal that is never indexed:
    /// it does not take room in the table where the fields that do repeat are kept. Another
    /// field of the same size does.
    func testValuesNewWithEveryMessageStayOutOfTheHeaderTable() throws {
        func tableSize(after extra: (name: String, value: String)?) throws -> Int {
            let client = try NGHTTP2Session(role: .client, settings: .init())
            let server = try NGHTTP2Session(role: .server, settings: .init())
            let serverEvents = Recorder()
            server.delegate = serverEvents
            defer { withExtendedLifetime(serverEvents) {} }  // the session's delegate is unowned
            var fields = [(name: ":method", value: "GET"), (":scheme", "http"), (":authority", "svc"), (":path", "/"), ("user-agent", "test")]
            if let extra { fields.append(extra) }
            _ = try XCTUnwrap(client.submitRequest(HTTP2FieldList(fields), body: nil))
            try pump(client, server)
            XCTAssertEqual(serverEvents.blocks.count, 1)
            if let extra { XCTAssertEqual(serverEvents.blocks.first?.1.first(extra.name), extra.value) }
            return client.sentHeaderTableSize
        }
        let base = try tableSize(after: nil)
        let id = "0af7651916cd43dd8448eb211c80319c"
        XCTAssertEqual(try tableSize(after: ("x-request-id", id)), base)
        XCTAssertEqual(try tableSize(after: ("b3", "\(id)-b7ad6b7169203331-1")), base)
        XCTAssertEqual(try tableSize(after: ("traceparent", "00-\(id)-b7ad6b7169203331-01")), base)
        XCTAssertEqual(try tableSize(after: ("x-request-ix", id)), base + 32 + 12 + id.utf8.count, "an ordinary field is indexed")
    }

    func testRequestAndResponseWithBodiesAndTrailers() throws {
        let client = try NGHTTP2Session(role: .client, settings: .init())
        let server = try NGHTTP2Session(role: .server, settings: .init())
        let clientEvents = Recorder()
        let serverEvents = Recorder()
        client.delegate = clientEvents
        defer { withExtendedLifetime(clientEvents) {} }  // the session's delegate is unowned
        server.delegate = serverEvents
        defer { withExtendedLifetime(serverEvents) {} }  // the session's delegate is unowned

        let requestBody = NGHTTP2OutboundBody()
        let fields = [(name: ":method", value: "POST"), (":scheme", "http"), (":authority", "svc"), (":path", "/x"), ("content-type", "application/grpc")]
        let streamID = try XCTUnwrap(client.submitRequest(HTTP2FieldList(fields), body: requestBody))
        requestBody.append(ByteBuffer(string: "hello"))
        var trailers = HTTPHeaders()
        trailers.add(name: "x-request-trailer", value: "1")
        requestBody.end(trailers: trailers)
        client.resumeData(streamID: streamID, body: requestBody)
        try pump(client, server)

        XCTAssertEqual(serverEvents.blocks.count, 2, "head and trailers")
        let head = try HTTP2HeaderTranslation.requestHead(from: serverEvents.blocks[0].1).get()
        XCTAssertEqual(head.uri, "/x")
        XCTAssertEqual(head.fields.first(name: "host"), "svc")
        XCTAssertEqual(serverEvents.blocks[1].1.first("x-request-trailer"), "1")
        XCTAssertTrue(serverEvents.ended.contains(streamID))
        XCTAssertEqual(serverEvents.data[streamID], 5)
        server.consume(streamID: streamID, bytes: 5)

        // Response: head, a deferred body that arrives later, then trailers.
        let responseBody = NGHTTP2OutboundBody()
        server.submitResponse(streamID: streamID, headers: [(":status", "200"), ("content-type", "application/grpc")], body: responseBody)
        try pump(client, server)
        XCTAssertEqual(clientEvents.blocks.count, 1)
        XCTAssertEqual(clientEvents.data[streamID, default: 0], 0, "nothing queued yet: deferred")
        responseBody.append(ByteBuffer(string: "world!"))
        var responseTrailers = HTTPHeaders()
        responseTrailers.add(name: "grpc-status", value: "0")
        responseBody.end(trailers: responseTrailers)
        server.resumeData(streamID: streamID, body: responseBody)
        try pump(client, server)
        XCTAssertEqual(clientEvents.data[streamID], 6)
        XCTAssertEqual(clientEvents.blocks.count, 2)
        XCTAssertEqual(clientEvents.blocks[1].1.first("grpc-status"), "0")
        XCTAssertTrue(clientEvents.blocks[1].2, "trailers end the stream")
        XCTAssertEqual(clientEvents.closed[streamID], 0)
    }

    func testUnconsumedDataHoldsTheSenderAtTheWindow() throws {
        let client = try NGHTTP2Session(role: .client, settings: .init())
        let server = try NGHTTP2Session(role: .server, settings: .init())
        let serverEvents = Recorder()
        server.delegate = serverEvents
        defer { withExtendedLifetime(serverEvents) {} }  // the session's delegate is unowned
        let clientEvents = Recorder()
        client.delegate = clientEvents
        defer { withExtendedLifetime(clientEvents) {} }  // the session's delegate is unowned
        let body = NGHTTP2OutboundBody()
        let streamID = try XCTUnwrap(client.submitRequest([(":method", "POST"), (":scheme", "http"), (":authority", "svc"), (":path", "/")], body: body))
        body.append(ByteBuffer(repeating: 7, count: 1024 * 1024))
        body.end(trailers: nil)
        client.resumeData(streamID: streamID, body: body)
        try pump(client, server)
        let window = Int(HTTP2Limits.initialStreamWindow)
        XCTAssertEqual(serverEvents.data[streamID], window, "the sender stops at the stream window")
        XCTAssertEqual(body.queuedBytes, 1024 * 1024 - window)
        server.consume(streamID: streamID, bytes: window)
        try pump(client, server)
        XCTAssertEqual(serverEvents.data[streamID], 2 * window, "consuming lets exactly one more window in")
        XCTAssertTrue(clientEvents.blocks.isEmpty)
    }

    func testResetIsPerStream() throws {
        let client = try NGHTTP2Session(role: .client, settings: .init())
        let server = try NGHTTP2Session(role: .server, settings: .init())
        let serverEvents = Recorder()
        server.delegate = serverEvents
        defer { withExtendedLifetime(serverEvents) {} }  // the session's delegate is unowned
        let clientEvents = Recorder()
        client.delegate = clientEvents
        defer { withExtendedLifetime(clientEvents) {} }  // the session's delegate is unowned
        let fields = [(name: ":method", value: "GET"), (":scheme", "http"), (":authority", "svc"), (":path", "/")]
        let first = try XCTUnwrap(client.submitRequest(HTTP2FieldList(fields), body: nil))
        let second = try XCTUnwrap(client.submitRequest(HTTP2FieldList(fields), body: nil))
        try pump(client, server)
        client.resetStream(first, errorCode: .cancel)
        try pump(client, server)
        XCTAssertEqual(serverEvents.resets, 1)
        XCTAssertEqual(serverEvents.closed[first], HTTP2ErrorCode.cancel.rawValue)
        XCTAssertNil(serverEvents.closed[second], "the other stream stays open")
        XCTAssertNil(clientEvents.closed[second])
    }
}

import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest
@testable import Sidecar

final class HTTP1EncodingTests: XCTestCase {
    private func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    func testResponseHead() {
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2", "X-Ünï": "välue"])
        XCTAssertEqual(text { $0.writeHTTPResponseHead(head) }, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-Ünï: välue\r\n\r\n")
        let custom = HTTPResponseHead(version: .http1_0, status: .custom(code: 599, reasonPhrase: "Odd"), headers: [:])
        XCTAssertEqual(text { $0.writeHTTPResponseHead(custom) }, "HTTP/1.0 599 Odd\r\n\r\n")
    }

    func testRequestHead() {
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/a?b=c", headers: ["host": "x", "transfer-encoding": "chunked"])
        XCTAssertEqual(text { $0.writeHTTPRequestHead(head) }, "POST /a?b=c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        let raw = HTTPRequestHead(version: .http1_1, method: .RAW(value: "PURGE"), uri: "/", headers: [:])
        XCTAssertEqual(text { $0.writeHTTPRequestHead(raw) }, "PURGE / HTTP/1.1\r\n\r\n")
    }

    func testChunkFraming() {
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 0) }, "0\r\n")
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 15) }, "f\r\n")
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 256) }, "100\r\n")
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 0x1_0000) }, "10000\r\n")
        XCTAssertEqual(text { $0.writeHTTPLastChunk(trailers: nil) }, "0\r\n\r\n")
        XCTAssertEqual(text { $0.writeHTTPLastChunk(trailers: ["grpc-status": "0"]) }, "0\r\ngrpc-status: 0\r\n\r\n")
    }

    /// The request encoder coalesces a head and small chunks into one buffer, and the response
    /// decoder above it still learns of HEAD requests.
    func testRequestEncoderCoalescesAndFrames() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP1RequestEncoder())
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: ["host": "x", "transfer-encoding": "chunked"])
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "hello"))), promise: nil)
        channel.write(HTTPClientRequestPart.end(nil), promise: nil)
        channel.flush()
        var written = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "one buffer for head, chunk and end")
        XCTAssertEqual(written.readString(length: written.readableBytes), "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")

        // A large chunk goes out as its own buffer, after the pending framing.
        let big = String(repeating: "z", count: HTTP1RequestEncoder.coalesceLimit + 1)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: big))), promise: nil)
        channel.write(HTTPClientRequestPart.end(nil), promise: nil)
        channel.flush()
        var parts: [String] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { parts.append(buffer.readString(length: buffer.readableBytes)!) }
        XCTAssertEqual(parts.joined(), "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n801\r\n" + big + "\r\n0\r\n\r\n")
        XCTAssertEqual(parts.count, 3)

        // Content-length framing: bytes as they are; a flush writes out what is pending.
        let plain = HTTPRequestHead(version: .http1_1, method: .PUT, uri: "/p", headers: ["host": "x", "content-length": "3"])
        channel.write(HTTPClientRequestPart.head(plain), promise: nil)
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self))
        channel.flush()
        var headBytes = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(headBytes.readString(length: headBytes.readableBytes), "PUT /p HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n")
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "abc"))), promise: nil)
        channel.write(HTTPClientRequestPart.end(nil), promise: nil)
        channel.flush()
        var rest = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(rest.readString(length: rest.readableBytes), "abc")
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testResponseToHeadHasNoBodyBehindOurEncoder() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP1RequestEncoder())
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .HEAD, uri: "/", headers: ["host": "x"])))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"))
        guard case .head(let head) = try XCTUnwrap(channel.readInbound(as: HTTPClientResponsePart.self)) else { return XCTFail("no head") }
        XCTAssertEqual(head.status, .ok)
        guard case .end = try XCTUnwrap(channel.readInbound(as: HTTPClientResponsePart.self)) else { return XCTFail("a body was expected") }
        _ = try channel.finish()
    }
}

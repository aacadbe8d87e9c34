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
        let head = ProxyResponseHead(status: .ok, headers: ["content-length": "2", "X-Ünï": "välue"])
        XCTAssertEqual(text { $0.writeHTTPResponseHead(head) }, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-Ünï: välue\r\n\r\n")
        let custom = ProxyResponseHead(status: .custom(code: 599, reasonPhrase: "Odd"))
        XCTAssertEqual(text { $0.writeHTTPResponseHead(custom, version: .http1_0) }, "HTTP/1.0 599 Odd\r\n\r\n")
        // The framing fields the downstream decides on follow the head's own.
        XCTAssertEqual(
            text { $0.writeHTTPResponseHead(head, chunked: true, connection: "close") },
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-Ünï: välue\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )
        XCTAssertEqual(
            text { $0.writeHTTPResponseHead(custom, version: .http1_0, connection: "keep-alive") },
            "HTTP/1.0 599 Odd\r\nconnection: keep-alive\r\n\r\n"
        )
    }

    func testRequestHead() {
        let head = ProxyRequestHead(method: .POST, uri: "/a?b=c", fields: ["host": "x"])
        XCTAssertEqual(text { $0.writeHTTPRequestHead(head) }, "POST /a?b=c HTTP/1.1\r\nhost: x\r\n\r\n")
        XCTAssertEqual(text { $0.writeHTTPRequestHead(head, chunked: true) }, "POST /a?b=c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        let raw = ProxyRequestHead(version: .http1_0, method: .RAW(value: "PURGE"), uri: "/")
        XCTAssertEqual(text { $0.writeHTTPRequestHead(raw) }, "PURGE / HTTP/1.0\r\n\r\n")
    }

    func testChunkFraming() {
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 0) }, "0\r\n")
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 15) }, "f\r\n")
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 256) }, "100\r\n")
        XCTAssertEqual(text { $0.writeHTTPChunkHeader(size: 0x1_0000) }, "10000\r\n")
        XCTAssertEqual(text { $0.writeHTTPLastChunk(trailers: nil) }, "0\r\n\r\n")
        XCTAssertEqual(text { $0.writeHTTPLastChunk(trailers: ["grpc-status": "0"]) }, "0\r\ngrpc-status: 0\r\n\r\n")
    }

    private func frames(_ build: (inout HTTP1MessageWriter, (ByteBuffer) -> Void) -> ByteBuffer?) -> [String] {
        var writer = HTTP1MessageWriter()
        var out: [String] = []
        if let last = build(&writer, { out.append(String(buffer: $0)) }) { out.append(String(buffer: last)) }
        return out
    }

    /// A head, a small chunk and the end leave as one buffer; a large chunk is written as it is.
    func testWriterCoalescesSmallMessagesAndFramesChunks() {
        let allocator = ByteBufferAllocator()
        let head = ProxyRequestHead(method: .POST, uri: "/", fields: ["host": "x"])
        func chunkedRequest(body: String, trailers: HTTPHeaders?) -> [String] {
            frames { writer, emit in
                writer.writeHead(chunked: true, allocator: allocator, encode: { $0.writeHTTPRequestHead(head, chunked: true) }, emit: emit)
                writer.writeBody(ByteBuffer(string: body), allocator: allocator, emit: emit)
                return writer.finish(trailers: trailers, allocator: allocator)
            }
        }
        XCTAssertEqual(
            chunkedRequest(body: "hello", trailers: ["grpc-status": "0"]),
            ["POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\ngrpc-status: 0\r\n\r\n"]
        )
        let big = String(repeating: "z", count: HTTP1MessageWriter.coalesceLimit + 1)
        XCTAssertEqual(
            chunkedRequest(body: big, trailers: nil),
            ["POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n801\r\n", big, "\r\n0\r\n\r\n"]
        )
        // Content-length framing: bytes as they are; trailers have nowhere to go.
        let plain = ProxyResponseHead(status: .ok, headers: ["content-length": "3"])
        XCTAssertEqual(
            frames { writer, emit in
                writer.writeHead(chunked: false, allocator: allocator, encode: { $0.writeHTTPResponseHead(plain) }, emit: emit)
                writer.writeBody(ByteBuffer(string: "abc"), allocator: allocator, emit: emit)
                return writer.finish(trailers: ["x": "y"], allocator: allocator)
            },
            ["HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"]
        )
        // What is pending can be taken out for a flush.
        var writer = HTTP1MessageWriter()
        writer.writeHead(chunked: false, allocator: allocator, encode: { $0.writeHTTPResponseHead(plain) }, emit: { _ in XCTFail("held") })
        XCTAssertEqual(writer.takePending().map { String(buffer: $0) }, "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n")
        XCTAssertNil(writer.takePending())
        XCTAssertEqual(writer.finish(trailers: nil, allocator: allocator).readableBytes, 0)
    }

    /// The next message's head goes into the storage of the last small buffer once the channel has
    /// let go of it, and never into one it still holds.
    func testWriterReusesTheLastSmallBufferOnlyWhenItIsFree() throws {
        let allocator = ByteBufferAllocator()
        func address(_ buffer: ByteBuffer) -> UInt { buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        func message(_ writer: inout HTTP1MessageWriter, _ body: String) -> ByteBuffer {
            let head = ProxyResponseHead(status: .ok, headers: ["content-length": "\(body.utf8.count)"])
            writer.writeHead(chunked: false, allocator: allocator, encode: { $0.writeHTTPResponseHead(head) }, emit: { _ in XCTFail("held") })
            writer.writeBody(ByteBuffer(string: body), allocator: allocator, emit: { _ in XCTFail("held") })
            return writer.finish(trailers: nil, allocator: allocator)
        }
        var writer = HTTP1MessageWriter()
        var first: ByteBuffer? = message(&writer, "one")
        let firstAddress = address(first!)
        // Still held (a write in flight): the next message gets a storage of its own.
        let second = message(&writer, "two")
        XCTAssertNotEqual(address(second), firstAddress)
        XCTAssertEqual(String(buffer: first!), "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none")
        XCTAssertEqual(String(buffer: second), "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\ntwo")
        // Let go of: reused (a buffer made meanwhile would have got its memory otherwise).
        let secondAddress = address(second)
        first = nil
        _ = consume second  // freed last: malloc would hand its memory to the next buffer of its size
        let blocker = allocator.buffer(capacity: 512)
        let third = message(&writer, "three")
        XCTAssertEqual(address(third), secondAddress)
        XCTAssertNotEqual(address(blocker), secondAddress)
        XCTAssertEqual(String(buffer: third), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nthree")
        // Once the connection went idle, the storage goes.
        let thirdAddress = address(third)
        _ = consume third
        writer.releaseKept()
        let idleBlocker = allocator.buffer(capacity: 512)  // may get the freed memory
        let afterIdle = message(&writer, "idle")
        XCTAssertNotEqual(address(afterIdle), thirdAddress)
        _ = idleBlocker
        // A buffer that grew past `keptCapacity` is not kept (were it kept, the next message,
        // made once it is let go of, would be written into it).
        let big = message(&writer, String(repeating: "b", count: HTTP1MessageWriter.coalesceLimit))
        XCTAssertGreaterThan(big.capacity, HTTP1MessageWriter.keptCapacity)
        let bigAddress = address(big)
        _ = consume big
        let fourth = message(&writer, "four")
        XCTAssertNotEqual(address(fourth), bigAddress)
        XCTAssertLessThanOrEqual(fourth.capacity, HTTP1MessageWriter.keptCapacity)
    }
}

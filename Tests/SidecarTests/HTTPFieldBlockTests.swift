import Dispatch
import NIOCore
import NIOHTTP1
import XCTest

@testable import Sidecar

final class HTTPFieldBlockTests: XCTestCase {
    /// A block as the response parser makes it: the fields of `head` (a status line, field
    /// lines, the blank line) located in the received bytes.
    private func received(_ head: String) throws -> HTTPFieldBlock {
        let buffer = ByteBuffer(string: head)
        var locations: [HTTPFieldBlock.Location] = []
        _ = try buffer.withUnsafeReadableBytes { bytes in
            let firstLine = HTTP1Syntax.newlineIndex(in: bytes, from: 0, to: bytes.count)!
            return try HTTP1Syntax.scanFields(bytes, from: firstLine + 1, into: &locations, maxCount: 20_000, strict: false)
        }
        return HTTPFieldBlock(storage: buffer, locations: locations)
    }

    private func encoded(_ block: HTTPFieldBlock) -> String {
        var buffer = ByteBuffer()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: block.encodedLength) { block.encode(into: $0, at: 0) }
        XCTAssertEqual(buffer.readableBytes, block.encodedLength)
        return String(buffer: buffer)
    }

    private func pairs(_ block: HTTPFieldBlock) -> [String] {
        (0..<block.count).map { "\(block.name(at: $0))=\(block.value(at: $0))" }
    }

    func testReceivedFieldsAreReadAndForwardedNormalised() throws {
        let block = try received(
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-A:  spaced \r\nX-B:\ttab\r\nBare: lf\nEmpty:\r\nEmpty-Spaced: \r\nContent-Length: 5\r\n\r\n"
        )
        XCTAssertEqual(pairs(block), ["Server=nginx", "X-A=spaced", "X-B=tab", "Bare=lf", "Empty=", "Empty-Spaced=", "Content-Length=5"])
        // Lines that are not exactly `name: value` CRLF are rewritten so; the rest are copied.
        XCTAssertEqual(
            encoded(block),
            "Server: nginx\r\nX-A: spaced\r\nX-B: tab\r\nBare: lf\r\nEmpty: \r\nEmpty-Spaced: \r\nContent-Length: 5\r\n"
        )
        XCTAssertEqual(block.first(name: "content-LENGTH"), "5")
        XCTAssertEqual(block.first(name: "x-b"), "tab")
        XCTAssertNil(block.first(name: "x-c"))
        XCTAssertNil(block.first(name: "server-"), "names of another length never match")
        XCTAssertTrue(block.contains(name: "EMPTY"))
        XCTAssertEqual(block.headers["x-a"], ["spaced"])
    }

    func testEditsKeepOrderAndLeaveTheReceivedBytesAlone() throws {
        let head = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nb: 4\r\n\r\n"
        let original = try received(head)
        var block = original
        block.remove(name: "B")
        XCTAssertEqual(encoded(block), "A: 1\r\nC: 3\r\n", "a removed field splits a run of copied lines")
        block.append(name: "d", value: "5")
        block.replaceOrAdd(name: "a", value: "6")
        XCTAssertEqual(pairs(block), ["C=3", "d=5", "a=6"])
        XCTAssertEqual(encoded(block), "C: 3\r\nd: 5\r\na: 6\r\n")
        // The copy it came from is unchanged (value semantics over a shared buffer).
        XCTAssertEqual(pairs(original), ["A=1", "B=2", "C=3", "b=4"])
        XCTAssertEqual(encoded(original), "A: 1\r\nB: 2\r\nC: 3\r\nb: 4\r\n")

        var filtered = original
        filtered.removeAll { name, value in name.count == 1 && value.first == UInt8(ascii: "2") || value.first == UInt8(ascii: "4") }
        XCTAssertEqual(pairs(filtered), ["A=1", "C=3"])
    }

    func testOnlyAUniqueFieldOfTheSameLengthIsOverwrittenInPlace() throws {
        let original = try received("HTTP/1.1 200 OK\r\nA: 1\r\nX-Sidecar-Attempt: 7\r\nB: 2\r\n\r\n")
        var block = original
        XCTAssertTrue(block.overwriteOnlyValue(lowercaseName: "x-sidecar-attempt", with: "1"))
        XCTAssertEqual(pairs(block), ["A=1", "X-Sidecar-Attempt=1", "B=2"], "the field keeps its place")
        XCTAssertEqual(encoded(block), "A: 1\r\nX-Sidecar-Attempt: 1\r\nB: 2\r\n")
        XCTAssertEqual(pairs(original), ["A=1", "X-Sidecar-Attempt=7", "B=2"], "the copy it came from is unchanged")
        XCTAssertFalse(block.overwriteOnlyValue(lowercaseName: "x-sidecar-attempt", with: "10"), "another length")
        XCTAssertFalse(block.overwriteOnlyValue(lowercaseName: "c", with: "1"), "no such field")
        var twice = try received("HTTP/1.1 200 OK\r\nx-sidecar-attempt: 7\r\nx-sidecar-attempt: 8\r\n\r\n")
        XCTAssertFalse(twice.overwriteOnlyValue(lowercaseName: "x-sidecar-attempt", with: "1"), "more than one")
        XCTAssertEqual(pairs(twice), ["x-sidecar-attempt=7", "x-sidecar-attempt=8"])
    }

    func testRemovingManyFieldsOfOneNameIsOnePass() throws {
        // A caller may send thousands of fields of one name (limits.maxHeaderCount goes up to
        // 10,000); removing them must not rescan the block per field. Quadratic removal took
        // ~4 s here in a debug build; one pass takes milliseconds.
        var head = "GET / HTTP/1.1\r\n"
        for index in 0..<5000 { head += "expecx: \(index)\r\nExpect: x\r\n" }
        var block = try received(head + "\r\n")
        XCTAssertEqual(block.count, 10_000)
        let start = DispatchTime.now()
        block.remove(name: "expect")
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        XCTAssertEqual(block.count, 5000)
        XCTAssertEqual(block.first(name: "expect"), nil)
        XCTAssertEqual(block.value(at: 4999), "4999", "the others keep their order")
        XCTAssertLessThan(elapsed, 0.5)
    }

    func testBuiltBlocksAndEquality() {
        let built: HTTPFieldBlock = ["x-sidecar-error": "no_route", "Content-Type": "text/plain"]
        XCTAssertEqual(encoded(built), "x-sidecar-error: no_route\r\nContent-Type: text/plain\r\n")
        XCTAssertEqual(built, HTTPFieldBlock(HTTPHeaders([("x-sidecar-error", "no_route"), ("Content-Type", "text/plain")])))
        XCTAssertNotEqual(built, ["x-sidecar-error": "no_route"])
        XCTAssertNotEqual(built, ["x-sidecar-error": "no_route", "Content-Type": "text/html"])
        let empty = HTTPFieldBlock()
        XCTAssertTrue(empty.isEmpty)
        XCTAssertEqual(empty.encodedLength, 0)
        XCTAssertEqual(encoded(empty), "")
        XCTAssertNil(empty.first(name: "x"))
    }

    func testHopByHopFieldsAreStrippedFromReceivedBytes() throws {
        var block = try received(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\nx-private: secret\r\n"
                + "Proxy-Authenticate: Basic\r\nTE: trailers\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\nServer: s\r\nProxyish: kept\r\n\r\n"
        )
        XCTAssertFalse(HopByHopHeaders.strip(&block))
        XCTAssertEqual(pairs(block), ["Server=s", "Proxyish=kept"])

        var closing = try received("HTTP/1.1 200 OK\r\nA: 1\r\nconnection: Close\r\n\r\n")
        XCTAssertTrue(HopByHopHeaders.strip(&closing))
        XCTAssertEqual(pairs(closing), ["A=1"])

        var plain = try received("HTTP/1.1 200 OK\r\nA: 1\r\n\r\n")
        XCTAssertFalse(HopByHopHeaders.strip(&plain))
        XCTAssertEqual(pairs(plain), ["A=1"])
    }
}

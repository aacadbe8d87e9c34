import NIOCore
import NIOHTTP1
import XCTest
@testable import Sidecar

final class HTTP1RequestParserTests: XCTestCase {
    private typealias P = HTTP1RequestParser

    /// Feeds `chunks` one after the other (keeping unparsed bytes, as the connection does),
    /// validating each head as the downstream handler does, and returns the events as text.
    private func parse(_ chunks: [String], parser: inout P) throws -> [String] {
        var events: [String] = []
        var leftover = ByteBuffer()
        for chunk in chunks {
            leftover.writeString(chunk)
            while let event = try parser.next(&leftover) {
                events.append(describe(event))
                if case .head(let head) = event {
                    switch HTTP1RequestValidator.validate(head, maxUriBytes: parser.maxUriBytes) {
                    case .success(let verdict): parser.startBody(verdict.framing)
                    case .failure(let problem): throw HTTP1ParseError.invalidRequest(problem)
                    }
                }
            }
            leftover.discardReadBytes()
        }
        return events
    }

    private func parse(_ chunks: [String], maxHeaderBytes: Int = 1024, maxHeaderCount: Int = 8, maxUriBytes: Int = 64) throws -> [String] {
        var parser = P(maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount, maxUriBytes: maxUriBytes)
        return try parse(chunks, parser: &parser)
    }

    private func describe(_ event: P.Event) -> String {
        switch event {
        case .head(let head):
            let fields = head.fields.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            return "\(head.method.rawValue) \(head.uri) 1.\(head.version.minor) [\(fields)]"
        case .body(let buffer):
            return "body \(String(buffer: buffer))"
        case .end(let trailers):
            return "end" + (trailers.map { " [" + $0.map { "\($0.name)=\($0.value)" }.joined(separator: ",") + "]" } ?? "")
        }
    }

    func testRequestsWithAndWithoutBodiesInPieces() throws {
        XCTAssertEqual(try parse(["GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-A:  b \r\n\r\n"]), ["GET /a?b=c 1.1 [Host=x,X-A=b]", "end"])
        XCTAssertEqual(
            try parse(["POST", " / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r", "\n\r\nhel", "lo"]),
            ["POST / 1.1 [Host=x,Content-Length=5]", "body hel", "body lo", "end"]
        )
        // HTTP/1.0 needs no Host; an empty line before the request line is ignored; methods
        // other than the common ones are kept as sent.
        XCTAssertEqual(try parse(["\r\nPURGE http://x/y HTTP/1.0\r\n\r\n"]), ["PURGE http://x/y 1.0 []", "end"])
        XCTAssertEqual(try parse(["OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n"]), ["OPTIONS * 1.1 [host=x]", "end"])
    }

    func testChunkedBodyWithExtensionsAndTrailers() throws {
        XCTAssertEqual(
            try parse(["PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=1\r\nhello\r\n", "A \r\n0123456789\r", "\n0\r\nx-t: 1\r\n\r\n"]),
            ["PUT / 1.1 [Host=x,Transfer-Encoding=chunked]", "body hello", "body 0123456789", "end [x-t=1]"]
        )
    }

    func testPipelinedRequestsComeOneAfterTheOther() throws {
        var parser = P(maxHeaderBytes: 1024, maxHeaderCount: 8, maxUriBytes: 64)
        XCTAssertEqual(
            try parse(["GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nzGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"], parser: &parser),
            ["GET /1 1.1 [Host=x]", "end", "POST /2 1.1 [Host=x,Content-Length=1]", "body z", "end", "GET /3 1.1 [Host=x]", "end"]
        )
        XCTAssertTrue(parser.isBetweenRequests)
    }

    func testNothingAfterAHeadUntilItsFramingIsKnown() throws {
        var parser = P(maxHeaderBytes: 1024, maxHeaderCount: 8, maxUriBytes: 64)
        var input = ByteBuffer(string: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        XCTAssertNotNil(try parser.next(&input))
        XCTAssertNil(try parser.next(&input))
        XCTAssertEqual(input.readableBytes, 2)
        parser.startBody(.contentLength(2))
        XCTAssertEqual(try parser.next(&input), .body(ByteBuffer(string: "ab")))
        XCTAssertEqual(try parser.next(&input), .end(nil))
    }

    func testMalformedRequests() {
        let cases: [(String, HTTP1ParseError)] = [
            // Line ends: CRLF only.
            ("GET / HTTP/1.1\nHost: x\n\n", .invalidRequestLine),
            ("GET / HTTP/1.1\r\nHost: x\n\r\n", .invalidHeader),
            ("GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n", .invalidHeader),
            ("\r\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
            // Request line.
            ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("GET /\u{1}a HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("GET / HTTP/1.1x\r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("GET / http/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("GET /\r\nHost: x\r\n\r\n", .invalidRequestLine),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", .unsupportedVersion),
            ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", .unsupportedVersion),
            // Fields.
            ("GET / HTTP/1.1\r\nHost: x\r\nbad name: y\r\n\r\n", .invalidHeader),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n", .invalidHeader),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-F: a\r\n b\r\n\r\n", .invalidHeader),
            ("GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", .invalidHeader),
            ("GET / HTTP/1.1\r\nHost: x\r\nA: b\u{0}c\r\n\r\n", .invalidHeader),
            ("GET / HTTP/1.1\r\nHost: x\r\nA: b\u{1B}c\r\n\r\n", .invalidHeader),
            // Semantics (the validator's verdict).
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidRequest(.contentLengthWithTransferEncoding)),
            ("GET / HTTP/1.1\r\nUser-Agent: y\r\n\r\n", .invalidRequest(.missingHost)),
            // Chunks.
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .invalidChunk),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n", .invalidChunk),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", .invalidChunk),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a\rb\r\nabc\r\n", .invalidChunk),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", .invalidChunk),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx-t: 1\n\r\n", .invalidHeader),
        ]
        for (input, expected) in cases {
            XCTAssertThrowsError(try parse([input]), input.debugDescription) { XCTAssertEqual($0 as? HTTP1ParseError, expected, input.debugDescription) }
        }
    }

    func testLimits() {
        // A target longer than the limit, whole or still arriving.
        XCTAssertThrowsError(try parse(["GET /" + String(repeating: "u", count: 64) + " HTTP/1.1\r\nHost: x\r\n\r\n"])) {
            XCTAssertEqual($0 as? HTTP1ParseError, .invalidRequest(.uriTooLong))
        }
        XCTAssertThrowsError(try parse(["GET /" + String(repeating: "u", count: 200)])) {
            XCTAssertEqual($0 as? HTTP1ParseError, .invalidRequest(.uriTooLong))
        }
        // Fields beyond their byte limit, whole or still arriving; too many fields.
        let fields = (0..<10).map { "X-\($0): " + String(repeating: "v", count: 20) + "\r\n" }.joined()
        XCTAssertThrowsError(try parse(["GET / HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n"], maxHeaderBytes: 200, maxHeaderCount: 100)) {
            XCTAssertEqual($0 as? HTTP1ParseError, .headTooLarge)
        }
        XCTAssertThrowsError(try parse(["GET / HTTP/1.1\r\nHost: x\r\n" + fields + fields], maxHeaderBytes: 200, maxHeaderCount: 100)) {
            XCTAssertEqual($0 as? HTTP1ParseError, .headTooLarge)
        }
        XCTAssertThrowsError(try parse(["GET / HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n"], maxHeaderBytes: 1024, maxHeaderCount: 4)) {
            XCTAssertEqual($0 as? HTTP1ParseError, .tooManyHeaders)
        }
        // Just within the limits.
        XCTAssertEqual(try parse(["GET /" + String(repeating: "u", count: 63) + " HTTP/1.1\r\nHost: x\r\n\r\n"]).count, 2)
    }

    func testMethodsAndTargets() {
        // Methods are case-sensitive and proxied only in upper case; CONNECT is not proxied;
        // a target is visible ASCII (anything else must be percent-encoded).
        for input in ["get / HTTP/1.1\r\nHost: x\r\n\r\n", "Head / HTTP/1.1\r\nHost: x\r\n\r\n", "CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /\u{FF} HTTP/1.1\r\nHost: x\r\n\r\n"] {
            XCTAssertThrowsError(try parse([input]), input.debugDescription) { XCTAssertEqual($0 as? HTTP1ParseError, .invalidRequestLine, input.debugDescription) }
        }
        XCTAssertEqual(try parse(["M-SEARCH /%FF HTTP/1.1\r\nHost: x\r\n\r\n"]).first, "M-SEARCH /%FF 1.1 [Host=x]")
    }

    func testRequestTrailersLoseFramingAndRoutingFields() throws {
        // Framing fields in trailers are refused (the next hop might merge them into the head);
        // Host and connection-specific fields are dropped; the rest is passed on.
        for trailer in ["Content-Length: 99", "Transfer-Encoding: gzip"] {
            let input = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\(trailer)\r\n\r\n"
            XCTAssertThrowsError(try parse([input]), trailer) { XCTAssertEqual($0 as? HTTP1ParseError, .invalidHeader, trailer) }
        }
        XCTAssertEqual(
            try parse(["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: evil\r\nConnection: x-t\r\nx-t: 1\r\nx-sum: 2\r\n\r\n"]).last,
            "end [x-sum=2]"
        )
        XCTAssertEqual(try parse(["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: evil\r\n\r\n"]).last, "end")
    }

    func testLimitsHoldWhateverTheReadBoundaries() {
        // Too many fields, or a bare LF, fail as the lines arrive, not at the blank line.
        var parser = P(maxHeaderBytes: 64 * 1024, maxHeaderCount: 8, maxUriBytes: 64)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n" + String(repeating: "a: b\r\n", count: 100))
        XCTAssertThrowsError(try parser.next(&buffer)) { XCTAssertEqual($0 as? HTTP1ParseError, .tooManyHeaders) }
        parser = P(maxHeaderBytes: 64 * 1024, maxHeaderCount: 8, maxUriBytes: 64)
        buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\na")
        XCTAssertThrowsError(try parser.next(&buffer)) { XCTAssertEqual($0 as? HTTP1ParseError, .invalidHeader) }
        // A head fed a byte at a time parses as it does whole.
        let head = "GET /a HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n"
        XCTAssertEqual(try parse(head.map { String($0) }), ["GET /a 1.1 [Host=x,A=1]", "end"])
        // Split anywhere (the first read is parsed whole when it can be, the rest by the
        // scanner), two requests in a row still come out as they do from one read.
        let two = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHost: y\r\nA: 1\r\n\r\n"
        let whole = try? parse([two])
        XCTAssertEqual(whole, ["POST /a 1.1 [Host=x,Content-Length=2]", "body hi", "end", "GET /b 1.1 [Host=y,A=1]", "end"])
        for cut in 1..<two.count {
            let pieces = [String(two.prefix(cut)), String(two.dropFirst(cut))]
            XCTAssertEqual((try? parse(pieces))?.filter { !$0.hasPrefix("body") }, whole?.filter { !$0.hasPrefix("body") }, "cut at \(cut)")
        }
        // A bad field line fails as soon as it is complete, whether or not the head is.
        for input in ["GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n"] {
            XCTAssertThrowsError(try parse([input])) { XCTAssertEqual($0 as? HTTP1ParseError, .invalidHeader) }
        }
        // A chunk-size line longer than the limit fails whether or not its end has arrived.
        let long = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "a", count: 4000)
        for input in [long, long + "\r\nX\r\n0\r\n\r\n"] {
            XCTAssertThrowsError(try parse([input], maxHeaderBytes: 8192)) { XCTAssertEqual($0 as? HTTP1ParseError, .invalidChunk) }
        }
    }
}

import NIOCore
import NIOHTTP1
import XCTest
@testable import Sidecar

final class HTTP1ResponseParserTests: XCTestCase {
    private typealias P = HTTP1ResponseParser

    /// Feeds `chunks` one after the other (keeping unparsed bytes, as the connection does) and
    /// returns the events, with bodies joined per message as text.
    private func parse(_ chunks: [String], head: Bool = false, close: Bool = false, parser: inout P) throws -> [String] {
        var events: [String] = []
        var leftover = ByteBuffer()
        for chunk in chunks {
            leftover.writeString(chunk)
            while let event = try parser.next(&leftover) { events.append(describe(event)) }
            leftover.discardReadBytes()
        }
        if close, let event = try parser.inputEnded() { events.append(describe(event)) }
        return events
    }

    private func parse(_ chunks: [String], head: Bool = false, close: Bool = false) throws -> [String] {
        var parser = P()
        parser.expectResponse(toHEAD: head)
        return try parse(chunks, head: head, close: close, parser: &parser)
    }

    private func describe(_ event: P.Event) -> String {
        switch event {
        case .head(let head, let keepAlive):
            let fields = head.fields.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            return "head \(head.status.code) \(head.status.reasonPhrase) \(keepAlive ? "keep" : "close") [\(fields)]"
        case .body(let buffer):
            return "body \(String(buffer: buffer))"
        case .end(let trailers):
            return "end" + (trailers.map { " [" + $0.map { "\($0.name)=\($0.value)" }.joined(separator: ",") + "]" } ?? "")
        }
    }

    func testContentLengthResponseInPieces() throws {
        XCTAssertEqual(
            try parse(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n", "\r\nhel", "lo"]),
            ["head 200 OK keep [Content-Length=5,X-A=b]", "body hel", "body lo", "end"]
        )
        XCTAssertEqual(try parse(["HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"]), ["head 404 Not Found keep [content-length=0]", "end"])
        // Bare LF line ends, no reason phrase, an empty line before the status line.
        XCTAssertEqual(try parse(["\r\nHTTP/1.1 204\nA: 1\n\n"]), ["head 204 No Content keep [A=1]", "end"])
    }

    func testEverySplitOfAResponseParsesAlike() throws {
        // The first read is parsed whole when it holds the head; otherwise the scanner takes the
        // head line by line. Either way the events are the same (bodies may come in more pieces).
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\n\r\nhi"
        let whole = try parse([text])
        XCTAssertEqual(whole, ["head 200 OK keep [Content-Length=2,X-A=b]", "body hi", "end"])
        for cut in 1..<text.count {
            let events = try parse([String(text.prefix(cut)), String(text.dropFirst(cut))])
            XCTAssertEqual(events.filter { !$0.hasPrefix("body") }, ["head 200 OK keep [Content-Length=2,X-A=b]", "end"], "cut at \(cut)")
        }
        XCTAssertEqual(try parse(text.map { String($0) }).filter { !$0.hasPrefix("body") }, ["head 200 OK keep [Content-Length=2,X-A=b]", "end"])
        // A field line with a NUL fails as soon as it is complete, before the blank line.
        var parser = P()
        parser.expectResponse(toHEAD: false)
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nA: \u{0}\r\n")
        XCTAssertThrowsError(try parser.next(&buffer)) { XCTAssertEqual($0 as? HTTP1ParseError, .invalidHeader) }
    }

    func testChunkedWithExtensionsAndTrailers() throws {
        XCTAssertEqual(
            try parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;ext=1\r\nhello\r\n", "A \r\n0123456789\r", "\n0\r\ngrpc-status: 0\r\n\r\n"]),
            ["head 200 OK keep [Transfer-Encoding=Chunked]", "body hello", "body 0123456789", "end [grpc-status=0]"]
        )
        XCTAssertEqual(
            try parse(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"]),
            ["head 200 OK keep [transfer-encoding=chunked]", "body abc", "end"]
        )
    }

    func testFramingWithoutLength() throws {
        // No length: the body runs to the close, and the connection cannot be reused.
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\n\r\nabc", "def"], close: true), ["head 200 OK close []", "body abc", "body def", "end"])
        // A list of equal lengths, or the field twice, is passed on as one plain value.
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"]), ["head 200 OK keep [content-length=2]", "body ok", "end"])
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx: y\r\ncontent-length: 2\r\n\r\nok"]).first, "head 200 OK keep [x=y,content-length=2]")
        // HTTP/1.0 closes unless asked to keep alive; `Connection: close` closes.
        XCTAssertEqual(try parse(["HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"]), ["head 200 OK close [content-length=0]", "end"])
        XCTAssertEqual(try parse(["HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n"]).first, "head 200 OK keep [Connection=Keep-Alive,content-length=0]")
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"]).first, "head 200 OK close [connection=close,content-length=0]")
    }

    func testNoBodyForHEADAnd304AndInterimResponsesAreSkipped() throws {
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"], head: true), ["head 200 OK keep [content-length=10]", "end"])
        XCTAssertEqual(try parse(["HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"]), ["head 304 Not Modified keep [content-length=10]", "end"])
        XCTAssertEqual(
            try parse(["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nz"]),
            ["head 200 OK keep [content-length=1]", "body z", "end"]
        )
    }

    func testConnectionReuseNeedsANewRequest() throws {
        var parser = P()
        parser.expectResponse(toHEAD: false)
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"], parser: &parser), ["head 200 OK keep [content-length=1]", "body a", "end"])
        XCTAssertTrue(parser.isIdle)
        XCTAssertThrowsError(try parse(["HTTP/1.1 200 OK\r\n\r\n"], parser: &parser)) { XCTAssertEqual($0 as? P.ParseError, .unsolicitedResponse) }
        parser = P()
        parser.expectResponse(toHEAD: false)
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n"], parser: &parser).count, 1)
        XCTAssertThrowsError(try parser.inputEnded()) { XCTAssertEqual($0 as? P.ParseError, .truncated) }
    }

    func testMalformedResponses() {
        let cases: [(String, P.ParseError)] = [
            ("HTTP/2.0 200 OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 2000 OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 099 Low\r\n\r\n", .invalidStatusLine),
            ("ICY 200 OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 200 OK\r\nbad header: x\r\n\r\n", .invalidHeader),
            ("HTTP/1.1 200 OK\r\nname : x\r\n\r\n", .invalidHeader),
            ("HTTP/1.1 200 OK\r\na: b\r\n folded\r\n\r\n", .invalidHeader),
            ("HTTP/1.1 200 OK\r\n: novalue\r\n\r\n", .invalidHeader),
            ("HTTP/1.1 200 OK\r\na: b\rc\r\n\r\n", .invalidHeader),
            ("HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n", .invalidContentLength),
            ("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", .invalidContentLength),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", .invalidChunk),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcXY", .invalidChunk),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1000000000000000\r\n", .invalidChunk),
            // Response splitting: both framings (RFC 9112 section 6.3 item 3).
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", .ambiguousFraming),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", .ambiguousFraming),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferCoding),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferCoding),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", .unsupportedTransferCoding),
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", .unexpectedUpgrade),
            ("HTTP/1.1 299 Fine\rX-Injected: 1\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 299 Fi\u{0}ne\r\n\r\n", .invalidStatusLine),
        ]
        for (input, expected) in cases {
            XCTAssertThrowsError(try parse([input]), input) { XCTAssertEqual($0 as? P.ParseError, expected, input) }
        }
        var small = P(maxHeadBytes: 64, maxHeaderCount: 2)
        small.expectResponse(toHEAD: false)
        XCTAssertThrowsError(try parse(["HTTP/1.1 200 OK\r\n" + String(repeating: "a", count: 80)], parser: &small)) { XCTAssertEqual($0 as? P.ParseError, .headTooLarge) }
        small = P(maxHeadBytes: 1024, maxHeaderCount: 2)
        small.expectResponse(toHEAD: false)
        XCTAssertThrowsError(try parse(["HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"], parser: &small)) { XCTAssertEqual($0 as? P.ParseError, .tooManyHeaders) }
    }

    func testResponsesAreReadLeniently() throws {
        // Upstream responses keep the leniency they had under llhttp: control characters other
        // than NUL and CR in values, and in chunk extensions, pass; a head sent a byte at a time
        // parses as it does whole.
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\nX-A: \u{1B}[0m\r\ncontent-length: 0\r\n\r\n"]).first, "head 200 OK keep [X-A=\u{1B}[0m,content-length=0]")
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;a=\u{1}\r\nz\r\n0\r\n\r\n"]).count, 3)
        let response = "HTTP/1.1 200 OK\r\nA: 1\r\ncontent-length: 1\r\n\r\nz"
        XCTAssertEqual(try parse(response.map { String($0) }), ["head 200 OK keep [A=1,content-length=1]", "body z", "end"])
    }

    func testBodylessResponsesAreNotSplitCandidatesAndHTTP10TransferCodingCloses() throws {
        // No body after HEAD or a 304, whatever the framing fields say (RFC 9112 section 6.3
        // item 1 before item 3); an invalid length on them is not passed on.
        XCTAssertEqual(
            try parse(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"], head: true),
            ["head 200 OK keep [Content-Length=5,Transfer-Encoding=chunked]", "end"]
        )
        XCTAssertEqual(try parse(["HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"]).count, 2)
        XCTAssertEqual(try parse(["HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"], head: true), ["head 200 OK keep []", "end"])
        // HTTP/1.0 has no transfer codings: read, but the connection is not reused.
        XCTAssertEqual(
            try parse(["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"]).first,
            "head 200 OK close [Connection=keep-alive,Transfer-Encoding=chunked]"
        )
    }

    /// Body bytes are slices of the input, not copies.
    func testBodiesAreSlicesOfTheInput() throws {
        var parser = P()
        parser.expectResponse(toHEAD: false)
        var input = ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcd")
        _ = try parser.next(&input)
        let bodyStart = input.withUnsafeReadableBytes { $0.baseAddress! }
        guard case .body(let body) = try parser.next(&input) else { return XCTFail("no body") }
        let sameStorage = body.withUnsafeReadableBytes { $0.baseAddress! == bodyStart }
        XCTAssertTrue(sameStorage)
    }
}

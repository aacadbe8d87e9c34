import NIOCore
import NIOHTTP1

/// Parses the HTTP/1.1 responses of one upstream connection, one event at a time, straight from
/// the connection's `ByteBuffer`s: body bytes are handed on as slices (no copy), and a head is
/// parsed in one pass once its blank line has arrived.
///
/// It replaces SwiftNIO's `HTTPResponseDecoder` (llhttp behind a `ByteToMessageHandler`) on the
/// upstream side, where that decoder and its handler cost ~14k instructions a request (boxing
/// every part in `NIOAny`, and observing every outgoing request head to know which responses
/// have no body). Its sibling `HTTP1RequestParser` does the same for requests; both share
/// `HTTP1Syntax` (fields) and `HTTP1BodyDecoder` (bodies).
///
/// Framing follows RFC 9112 section 6.3: no body for a response to HEAD or a 204/304; chunked for
/// `Transfer-Encoding: chunked`; otherwise `content-length` (a list of equal values is accepted
/// and passed on as one value), or read-until-close when no length is given. Interim 1xx
/// responses are skipped. Errors (the exchange sees a protocol error, the connection closes):
/// both `Transfer-Encoding` and `Content-Length` (response splitting), any transfer coding but a
/// lone `chunked`, a `101` (the proxy strips `Upgrade`), control characters in the reason phrase
/// or a field value, obsolete line folding, whitespace before a colon, invalid tokens, oversized
/// heads. A bare LF ends a line (RFC 9112 section 2.2 allows a recipient to accept it).
struct HTTP1ResponseParser {
    enum Event: Equatable {
        /// A final response head; `keepAlive` says whether the connection may serve another
        /// request after this response.
        case head(ProxyResponseHead, keepAlive: Bool)
        case body(ByteBuffer)
        case end(HTTPHeaders?)
    }

    typealias ParseError = HTTP1ParseError

    private enum State: Equatable {
        /// No request is waiting for its response.
        case idle
        case awaitingHead
        /// The head is parsed; the body decoder has the rest of the response.
        case body
    }

    let maxHeadBytes: Int
    let maxHeaderCount: Int
    private var state: State = .idle
    private var requestIsHEAD = false
    private var headScanner: HTTP1HeadScanner
    private var body: HTTP1BodyDecoder

    init(maxHeadBytes: Int = 64 * 1024, maxHeaderCount: Int = 256) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
        self.headScanner = HTTP1HeadScanner(strictLineEnds: false, hasStartLine: true, maxFields: maxHeaderCount, maxBytes: maxHeadBytes)
        self.body = HTTP1BodyDecoder(strictLineEnds: false, maxTrailerBytes: maxHeadBytes, maxTrailerCount: maxHeaderCount)
    }

    /// A request went out: its response comes next (with no body when the request was HEAD).
    mutating func expectResponse(toHEAD: Bool) {
        state = .awaitingHead
        headScanner.reset()
        requestIsHEAD = toHEAD
    }

    /// Whether no response is in progress or expected.
    var isIdle: Bool { state == .idle }

    /// The next event from `buffer`, consuming the bytes it used; nil when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) throws -> Event? {
        while true {
            switch state {
            case .idle:
                if buffer.readableBytes > 0 { throw ParseError.unsolicitedResponse }
                return nil
            case .awaitingHead:
                // A server may send empty lines before a status line (RFC 9112 section 2.2).
                while headScanner.isAtStart, let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                    byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
                {
                    buffer.moveReaderIndex(forwardBy: 1)
                }
                guard case let (head, keepAlive, framing)? = try parseHead(&buffer) else { return nil }
                if let framing {
                    body.start(framing)
                    state = .body
                    return .head(head, keepAlive: keepAlive)
                }
                continue  // an interim response: skipped
            case .body:
                switch try body.next(&buffer) {
                case .body(let slice)?:
                    return .body(slice)
                case .end(let trailers)?:
                    state = .idle
                    return .end(trailers)
                case nil:
                    return nil
                }
            }
        }
    }

    /// The connection's input ended: a read-until-close body is complete; in any other state
    /// with a response under way the response was cut short.
    mutating func inputEnded() throws -> Event? {
        switch state {
        case .idle:
            return nil
        case .awaitingHead:
            state = .idle
            headScanner.reset()
            throw ParseError.truncated
        case .body:
            state = .idle
            guard case .end(let trailers)? = try body.inputEnded() else { return nil }
            return .end(trailers)
        }
    }

    // MARK: - Head

    /// Parses a complete head at the start of `buffer`. Returns nil when its blank line has not
    /// arrived; the framing state is nil for an interim (1xx) response. The head's fields stay in
    /// the received bytes (a slice of `buffer`, not a copy).
    /// Whole in one pass when it came in one read, through the scanner otherwise
    /// (`HTTP1HeadScanner.parseHead`).
    private mutating func parseHead(_ buffer: inout ByteBuffer) throws -> (ProxyResponseHead, Bool, HTTP1BodyDecoder.Framing?)? {
        // The scanner is a part of `self`: a copy is worked on while `parseHeadBytes` reads `self`.
        var scanner = headScanner
        let parsed = try scanner.parseHead(buffer) { bytes, complete in try parseHeadBytes(bytes, complete: complete) }
        headScanner = scanner
        guard let statusLine = parsed, let headBytes = buffer.readSlice(length: statusLine.length) else { return nil }
        let code = statusLine.code
        var fields = HTTPFieldBlock(storage: headBytes, locations: statusLine.fields)
        if code >= 100, code < 200, code != 101 { return (ProxyResponseHead(status: statusLine.status, fields: fields), false, nil) }

        // A proxy strips `Upgrade`: a switch of protocols was never asked for.
        if code == 101 { throw ParseError.unexpectedUpgrade }
        let minor = statusLine.minor
        var keepAlive = minor >= 1
        var contentLength: Int?
        var lengthValid = true
        var contentLengthFields = 0
        var contentLengthIsCanonical = true
        var hasTransferEncoding = false
        var onlyChunked = true
        var codings = 0
        fields.forEachField { name, value in
            switch name.count {
            case 10 where name.equalsIgnoringASCIICase("connection"):
                HTTP1RequestValidator.forEachListItem(value) { token in
                    if token.equalsIgnoringASCIICase("close") { keepAlive = false }
                    if token.equalsIgnoringASCIICase("keep-alive"), minor == 0 { keepAlive = true }
                }
            case 14 where name.equalsIgnoringASCIICase("content-length"):
                contentLengthFields += 1
                if !HTTP1RequestValidator.parseContentLength(value, into: &contentLength) { lengthValid = false }
                if !value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) { contentLengthIsCanonical = false }
            case 17 where name.equalsIgnoringASCIICase("transfer-encoding"):
                hasTransferEncoding = true
                HTTP1RequestValidator.forEachListItem(value) { coding in
                    codings += 1
                    if !coding.equalsIgnoringASCIICase("chunked") { onlyChunked = false }
                }
            default:
                return
            }
        }
        if contentLengthFields > 1 || !contentLengthIsCanonical {
            if lengthValid, let contentLength {
                // `Content-Length: 5, 5` or the field twice: passed on as one plain value.
                fields.replaceOrAdd(name: "content-length", value: String(contentLength))
            } else {
                // Invalid: an error below when a body follows; otherwise not passed on.
                fields.remove(name: "content-length")
            }
        }
        // HTTP/1.0 has no transfer codings: such framing is faulty (RFC 9112 section 6.1), and
        // the connection is not reused after it.
        if hasTransferEncoding, minor == 0 { keepAlive = false }
        let framing: HTTP1BodyDecoder.Framing
        if requestIsHEAD || code == 204 || code == 304 {
            // No body whatever the fields say (RFC 9112 section 6.3 item 1): nothing to split.
            framing = .none
        } else if hasTransferEncoding {
            // Both framings at once is how responses are split (section 6.3 item 3): an error,
            // as is any transfer coding but a lone `chunked` (the proxy re-frames the body for
            // its caller and could not pass another coding on).
            if contentLengthFields > 0 { throw ParseError.ambiguousFraming }
            if codings != 1 || !onlyChunked { throw ParseError.unsupportedTransferCoding }
            framing = .chunked
        } else if !lengthValid {
            throw ParseError.invalidContentLength
        } else if let contentLength {
            framing = .length(contentLength)
        } else {
            framing = .untilClose
            keepAlive = false
        }
        return (ProxyResponseHead(status: statusLine.status, fields: consume fields), keepAlive, framing)
    }

    /// A parsed status line and where the head's fields lie.
    private struct StatusLine {
        var minor: Int
        var code: Int
        var status: HTTPResponseStatus
        var fields: [HTTPFieldBlock.Location]
        /// The head's length, its blank line included.
        var length: Int
    }

    /// The status line and fields at the start of `bytes`. `complete`: `bytes` are the head
    /// exactly (the scanner found its end); otherwise they may stop short of its blank line, and
    /// nil says so (every complete line was checked, so an error is thrown as early as it can be).
    private func parseHeadBytes(_ bytes: UnsafeRawBufferPointer, complete: Bool) throws -> StatusLine? {
        guard let lineEnd = HTTP1Syntax.newlineIndex(in: bytes, from: 0, to: bytes.count) else {
            if complete { throw ParseError.invalidStatusLine }
            return nil
        }
        let statusLine = UnsafeRawBufferPointer(rebasing: bytes[0..<(lineEnd > 0 && bytes[lineEnd - 1] == UInt8(ascii: "\r") ? lineEnd - 1 : lineEnd)])
        // HTTP/1.x SP 3DIGIT [SP reason-phrase]
        guard statusLine.count >= 12,
            statusLine[0] == UInt8(ascii: "H"), statusLine[1] == UInt8(ascii: "T"), statusLine[2] == UInt8(ascii: "T"),
            statusLine[3] == UInt8(ascii: "P"), statusLine[4] == UInt8(ascii: "/"), statusLine[5] == UInt8(ascii: "1"),
            statusLine[6] == UInt8(ascii: "."), HTTP1Syntax.isDigit(statusLine[7]), statusLine[8] == UInt8(ascii: " "),
            HTTP1Syntax.isDigit(statusLine[9]), HTTP1Syntax.isDigit(statusLine[10]), HTTP1Syntax.isDigit(statusLine[11]),
            statusLine.count == 12 || statusLine[12] == UInt8(ascii: " ")
        else { throw ParseError.invalidStatusLine }
        let minor = Int(statusLine[7] &- UInt8(ascii: "0"))
        let code = Int(statusLine[9] &- 48) * 100 + Int(statusLine[10] &- 48) * 10 + Int(statusLine[11] &- 48)
        guard code >= 100 else { throw ParseError.invalidStatusLine }
        // reason-phrase = *( HTAB / SP / VCHAR / obs-text ): no control characters (a bare CR in
        // it would otherwise reach the caller's connection).
        if statusLine.count > 13 {
            for byte in statusLine[13...] where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                throw ParseError.invalidStatusLine
            }
        }
        let reason = UnsafeRawBufferPointer(rebasing: statusLine[min(13, statusLine.count)...])
        let status: HTTPResponseStatus
        if code == 200, reason.equalsIgnoringASCIICase("ok") {
            status = .ok  // the usual line, without making its text again
        } else {
            status = HTTPResponseStatus(statusCode: code, reasonPhrase: String(decoding: reason, as: UTF8.self))
        }
        var fields: [HTTPFieldBlock.Location] = []
        fields.reserveCapacity(16)
        guard let end = try HTTP1Syntax.scanFieldsIfComplete(bytes, from: lineEnd + 1, into: &fields, maxCount: maxHeaderCount, strict: false) else {
            if complete { throw ParseError.invalidHeader }  // the scanner found the blank line: not reached
            return nil
        }
        return StatusLine(minor: minor, code: code, status: status, fields: fields, length: end)
    }
}

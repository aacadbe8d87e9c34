#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// Parses the HTTP/1.1 responses of one upstream connection, one event at a time, straight from
/// the connection's `ByteBuffer`s: body bytes are handed on as slices (no copy), and a head is
/// parsed in one pass once its blank line has arrived.
///
/// It replaces SwiftNIO's `HTTPResponseDecoder` (llhttp behind a `ByteToMessageHandler`) on the
/// upstream side, where that decoder and its handler cost ~14k instructions a request (boxing
/// every part in `NIOAny`, and observing every outgoing request head to know which responses
/// have no body). Requests are still parsed by llhttp: what callers send is the hostile side.
///
/// Framing follows RFC 9112 section 6.3: no body for a response to HEAD or a 204/304; chunked for
/// `Transfer-Encoding: chunked`; otherwise `content-length` (a list of equal values is accepted
/// and passed on as one value), or read-until-close when no length is given. Interim 1xx
/// responses are skipped. Errors (the exchange sees a protocol error, the connection closes):
/// both `Transfer-Encoding` and `Content-Length` (response splitting), any transfer coding but a
/// lone `chunked`, a `101` (the proxy strips `Upgrade`), control characters in the reason phrase
/// or a field value, obsolete line folding, whitespace before a colon, invalid tokens, oversized
/// heads.
struct HTTP1ResponseParser {
    enum Event: Equatable {
        /// A final response head; `keepAlive` says whether the connection may serve another
        /// request after this response.
        case head(HTTPResponseHead, keepAlive: Bool)
        case body(ByteBuffer)
        case end(HTTPHeaders?)
    }

    enum ParseError: Error, Equatable {
        case unsolicitedResponse
        case invalidStatusLine
        case invalidHeader
        case headTooLarge
        case tooManyHeaders
        case invalidContentLength
        case invalidChunk
        /// The connection closed in the middle of a response that had a length.
        case truncated
        /// Both `Transfer-Encoding` and `Content-Length`.
        case ambiguousFraming
        /// A transfer coding other than a lone `chunked`.
        case unsupportedTransferCoding
        /// A `101 Switching Protocols` (the proxy never asks for an upgrade).
        case unexpectedUpgrade
    }

    private enum State: Equatable {
        /// No request is waiting for its response.
        case idle
        case awaitingHead
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data.
        case chunkDataEnd
        case trailers
        case untilClose
        /// The head had no body: `.end` comes next.
        case endPending
    }

    let maxHeadBytes: Int
    let maxHeaderCount: Int
    private var state: State = .idle
    private var requestIsHEAD = false

    init(maxHeadBytes: Int = 64 * 1024, maxHeaderCount: Int = 256) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
    }

    /// A request went out: its response comes next (with no body when the request was HEAD).
    mutating func expectResponse(toHEAD: Bool) {
        state = .awaitingHead
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
                while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                    byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
                {
                    buffer.moveReaderIndex(forwardBy: 1)
                }
                guard let parsed = try parseHead(&buffer) else { return nil }
                let (head, keepAlive, framing) = parsed
                if let framing {
                    state = framing
                    return .head(head, keepAlive: keepAlive)
                }
                continue  // an interim response: skipped
            case .endPending:
                state = .idle
                return .end(nil)
            case .body(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let length = min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: length)!
                state = remaining == length ? .endPending : .body(remaining: remaining - length)
                return .body(slice)
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkSize:
                guard let size = try parseChunkSize(&buffer) else { return nil }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let length = min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: length)!
                state = remaining == length ? .chunkDataEnd : .chunkData(remaining: remaining - length)
                return .body(slice)
            case .chunkDataEnd:
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
                if first == UInt8(ascii: "\n") {
                    buffer.moveReaderIndex(forwardBy: 1)
                } else {
                    guard let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return nil }
                    guard first == UInt8(ascii: "\r"), second == UInt8(ascii: "\n") else { throw ParseError.invalidChunk }
                    buffer.moveReaderIndex(forwardBy: 2)
                }
                state = .chunkSize
            case .trailers:
                guard let trailers = try parseTrailers(&buffer) else { return nil }
                state = .idle
                return .end(trailers.isEmpty ? nil : trailers)
            }
        }
    }

    /// The connection's input ended: a read-until-close body is complete; in any other state
    /// with a response under way the response was cut short.
    mutating func inputEnded() throws -> Event? {
        switch state {
        case .untilClose, .endPending:
            state = .idle
            return .end(nil)
        case .idle:
            return nil
        default:
            state = .idle
            throw ParseError.truncated
        }
    }

    // MARK: - Head

    /// Parses a complete head at the start of `buffer`. Returns nil when its blank line has not
    /// arrived; the framing state is nil for an interim (1xx) response.
    private mutating func parseHead(_ buffer: inout ByteBuffer) throws -> (HTTPResponseHead, Bool, State?)? {
        guard let headLength = Self.blankLineEnd(in: buffer, limit: maxHeadBytes) else {
            if buffer.readableBytes > maxHeadBytes { throw ParseError.headTooLarge }
            return nil
        }
        let parsed = try buffer.withUnsafeReadableBytes { bytes in
            try parseHeadBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<headLength]))
        }
        buffer.moveReaderIndex(forwardBy: headLength)
        let code = Int(parsed.status.code)
        if code >= 100, code < 200, code != 101 { return (parsed, false, nil) }

        // A proxy strips `Upgrade`: a switch of protocols was never asked for.
        if code == 101 { throw ParseError.unexpectedUpgrade }
        var head = parsed
        var keepAlive = parsed.version.minor >= 1
        var contentLength: Int?
        var lengthValid = true
        var contentLengthFields = 0
        var contentLengthIsCanonical = true
        var hasTransferEncoding = false
        var onlyChunked = true
        var codings = 0
        for (name, value) in parsed.headers {
            switch name.utf8.count {
            case 10 where name.equalsIgnoringASCIICase("connection"):
                HTTP1RequestValidator.forEachListItem(value) { token in
                    if token.equalsIgnoringASCIICase("close") { keepAlive = false }
                    if token.equalsIgnoringASCIICase("keep-alive"), parsed.version.minor == 0 { keepAlive = true }
                }
            case 14 where name.equalsIgnoringASCIICase("content-length"):
                contentLengthFields += 1
                if !HTTP1RequestValidator.parseContentLength(value, into: &contentLength) { lengthValid = false }
                if !value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) { contentLengthIsCanonical = false }
            case 17 where name.equalsIgnoringASCIICase("transfer-encoding"):
                hasTransferEncoding = true
                HTTP1RequestValidator.forEachListItem(value) { coding in
                    codings += 1
                    if !coding.equalsIgnoringASCIICase("chunked") { onlyChunked = false }
                }
            default:
                continue
            }
        }
        if contentLengthFields > 1 || !contentLengthIsCanonical {
            if lengthValid, let contentLength {
                // `Content-Length: 5, 5` or the field twice: passed on as one plain value.
                head.headers.replaceOrAdd(name: "content-length", value: String(contentLength))
            } else {
                // Invalid: an error below when a body follows; otherwise not passed on.
                head.headers.remove(name: "content-length")
            }
        }
        // HTTP/1.0 has no transfer codings: such framing is faulty (RFC 9112 section 6.1), and
        // the connection is not reused after it.
        if hasTransferEncoding, parsed.version.minor == 0 { keepAlive = false }
        let framing: State
        if requestIsHEAD || code == 204 || code == 304 {
            // No body whatever the fields say (RFC 9112 section 6.3 item 1): nothing to split.
            framing = .endPending
        } else if hasTransferEncoding {
            // Both framings at once is how responses are split (section 6.3 item 3): an error,
            // as is any transfer coding but a lone `chunked` (the proxy re-frames the body for
            // its caller and could not pass another coding on).
            if contentLengthFields > 0 { throw ParseError.ambiguousFraming }
            if codings != 1 || !onlyChunked { throw ParseError.unsupportedTransferCoding }
            framing = .chunkSize
        } else if !lengthValid {
            throw ParseError.invalidContentLength
        } else if let contentLength {
            framing = contentLength == 0 ? .endPending : .body(remaining: contentLength)
        } else {
            framing = .untilClose
            keepAlive = false
        }
        return (head, keepAlive, framing)
    }

    private func parseHeadBytes(_ bytes: UnsafeRawBufferPointer) throws -> HTTPResponseHead {
        var lines = LineReader(bytes: bytes)
        guard let line = lines.next() else { throw ParseError.invalidStatusLine }
        let statusLine = UnsafeRawBufferPointer(rebasing: line)
        // HTTP/1.x SP 3DIGIT [SP reason-phrase]
        guard statusLine.count >= 12,
            statusLine[0] == UInt8(ascii: "H"), statusLine[1] == UInt8(ascii: "T"), statusLine[2] == UInt8(ascii: "T"),
            statusLine[3] == UInt8(ascii: "P"), statusLine[4] == UInt8(ascii: "/"), statusLine[5] == UInt8(ascii: "1"),
            statusLine[6] == UInt8(ascii: "."), Self.isDigit(statusLine[7]), statusLine[8] == UInt8(ascii: " "),
            Self.isDigit(statusLine[9]), Self.isDigit(statusLine[10]), Self.isDigit(statusLine[11]),
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
        let reason = statusLine.count > 13 ? String(decoding: UnsafeRawBufferPointer(rebasing: statusLine[13...]), as: UTF8.self) : ""

        var headers = HTTPHeaders()
        try Self.parseFields(&lines, into: &headers, maxCount: maxHeaderCount)
        return HTTPResponseHead(
            version: HTTPVersion(major: 1, minor: minor),
            status: HTTPResponseStatus(statusCode: code, reasonPhrase: reason),
            headers: headers
        )
    }

    /// `name: value` lines up to the blank line. A plain byte loop (this runs for every header
    /// of every response), and the fields go into `HTTPHeaders` in one piece: its `add` checks
    /// every name for ASCII again.
    private static func parseFields(_ lines: inout LineReader, into headers: inout HTTPHeaders, maxCount: Int) throws {
        let bytes = lines.bytes
        let count = bytes.count
        var position = lines.position
        var fields: [(String, String)] = []
        fields.reserveCapacity(16)
        defer { lines.position = position }
        while position < count {
            let newline = newlineIndex(in: bytes, from: position, to: count) ?? count
            var end = newline
            if end > position, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end == position { break }  // the blank line
            if fields.count == maxCount { throw ParseError.tooManyHeaders }
            // A token, then the colon: no whitespace before it, no obsolete line folding.
            var colon = position
            while colon < end, isTokenByte(bytes[colon]) { colon += 1 }
            guard colon > position, colon < end, bytes[colon] == UInt8(ascii: ":") else { throw ParseError.invalidHeader }
            var valueStart = colon + 1
            var valueEnd = end
            while valueStart < valueEnd, bytes[valueStart] == UInt8(ascii: " ") || bytes[valueStart] == UInt8(ascii: "\t") { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == UInt8(ascii: " ") || bytes[valueEnd - 1] == UInt8(ascii: "\t") { valueEnd -= 1 }
            var index = valueStart
            while index < valueEnd {
                let byte = bytes[index]
                if byte == 0 || byte == UInt8(ascii: "\r") { throw ParseError.invalidHeader }
                index += 1
            }
            fields.append((
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<colon]), as: UTF8.self),
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
            ))
            position = newline + 1
        }
        if headers.isEmpty {
            headers = HTTPHeaders(fields)
        } else {
            headers.add(contentsOf: fields)
        }
    }

    // MARK: - Chunked body

    /// Reads a chunk-size line (hex size, optional extensions); nil until the whole line is here.
    private func parseChunkSize(_ buffer: inout ByteBuffer) throws -> Int? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > 1024 { throw ParseError.invalidChunk }
            return nil
        }
        var size = 0
        var digits = 0
        var index = view.startIndex
        while index < newline, let value = Self.hexValue(view[index]) {
            guard digits < 15 else { throw ParseError.invalidChunk }
            size = size << 4 | value
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw ParseError.invalidChunk }
        var lineEnd = newline
        if lineEnd > index, view[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        // What may follow the size: whitespace, then `;` extensions (ignored).
        while index < lineEnd, view[index] == UInt8(ascii: " ") || view[index] == UInt8(ascii: "\t") { index += 1 }
        guard index == lineEnd || view[index] == UInt8(ascii: ";") else { throw ParseError.invalidChunk }
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return size
    }

    /// The trailer section after the last chunk; nil until its blank line is here.
    private func parseTrailers(_ buffer: inout ByteBuffer) throws -> HTTPHeaders? {
        // Usually there is none: just the blank line.
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
            if first == UInt8(ascii: "\n") {
                buffer.moveReaderIndex(forwardBy: 1)
                return HTTPHeaders()
            }
            if first == UInt8(ascii: "\r"), buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == UInt8(ascii: "\n") {
                buffer.moveReaderIndex(forwardBy: 2)
                return HTTPHeaders()
            }
        }
        guard let length = Self.blankLineEnd(in: buffer, limit: maxHeadBytes) else {
            if buffer.readableBytes > maxHeadBytes { throw ParseError.headTooLarge }
            return nil
        }
        var trailers = HTTPHeaders()
        try buffer.withUnsafeReadableBytes { bytes in
            var lines = LineReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
            try Self.parseFields(&lines, into: &trailers, maxCount: maxHeaderCount)
        }
        buffer.moveReaderIndex(forwardBy: length)
        return trailers
    }

    // MARK: - Bytes

    /// The length up to and including the first blank line (`\n\n` or `\n\r\n`), if within `limit`.
    private static func blankLineEnd(in buffer: ByteBuffer, limit: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            let count = min(bytes.count, limit)
            var index = 0
            while index < count {
                guard let newline = newlineIndex(in: bytes, from: index, to: count) else { return nil }
                index = newline
                var next = index + 1
                if next < count, bytes[next] == UInt8(ascii: "\r") { next += 1 }
                if next < count, bytes[next] == UInt8(ascii: "\n") { return next + 1 }
                index += 1
            }
            return nil
        }
    }

    /// The index of the first `\n` in `bytes[from..<to]` (`memchr`: lines are found a word at a
    /// time, not a byte at a time).
    @inline(__always)
    static func newlineIndex(in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(UInt8(ascii: "\n")), to - from) else { return nil }
        return UnsafeRawPointer(found) - base
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    /// RFC 9110 `tchar`, as a bit set over the ASCII range.
    @inline(__always)
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        // Bits set for ! # $ % & ' * + - . 0-9 (low word) and A-Z ^ _ ` a-z | ~ (high word).
        let low: UInt64 = 0x03FF_6CFA_0000_0000
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        if byte < 64 { return (low >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (high >> UInt64(byte - 64)) & 1 == 1 }
        return false
    }
}

/// Lines of a head, without their `\r\n` (or bare `\n`) ends.
private struct LineReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func next() -> Slice<UnsafeRawBufferPointer>? {
        guard position < bytes.count else { return nil }
        let newline = HTTP1ResponseParser.newlineIndex(in: bytes, from: position, to: bytes.count) ?? bytes.count
        var end = newline
        if end > position, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = bytes[position..<end]
        position = newline + 1
        return line
    }
}

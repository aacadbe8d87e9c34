#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// Parses the HTTP/1.x requests of one downstream connection, one event at a time, straight from
/// the connection's `ByteBuffer`s: a head in one pass once its blank line has arrived, body bytes
/// as slices of what was read (no copy).
///
/// It replaces SwiftNIO's `HTTPRequestDecoder` (llhttp behind a `ByteToMessageHandler`, every part
/// boxed in `NIOAny` and sent down the pipeline). The caller is the hostile side, so the grammar
/// is strict (RFC 9112): `method SP request-target SP HTTP/1.(0|1) CRLF`, exactly one space
/// between the parts, an upper-case method other than CONNECT, a target of visible ASCII; every
/// line ends in CRLF (a bare LF or CR is an error: it is how a front and a back end are made to
/// disagree on where a request ends); field names are tokens with no whitespace before the colon;
/// no obsolete line folding; no control characters in values; chunk-size lines of at most 1024
/// bytes with no control characters in extensions; no framing fields in trailers. Heads are
/// scanned as they arrive (`HTTP1HeadScanner`: linear however they are split, limits enforced
/// line by line). The request line is bounded by `maxUriBytes` plus its fixed parts, the fields
/// by `maxHeaderBytes` and `maxHeaderCount`.
///
/// It does only syntax: after a `.head` the owner validates the head (`HTTP1RequestValidator`:
/// framing fields, `Host`) and tells the parser how the body is framed with `startBody`; until
/// then `next` returns nil.
struct HTTP1RequestParser {
    enum Event: Equatable {
        case head(ProxyRequestHead)
        case body(ByteBuffer)
        case end(HTTPHeaders?)
    }

    private enum State: Equatable {
        /// Between requests: the next bytes are a request line.
        case awaitingHead
        /// A head was returned; the owner has not said how its body is framed yet.
        case awaitingFraming
        case body
    }

    let maxHeaderBytes: Int
    let maxHeaderCount: Int
    let maxUriBytes: Int
    private var state: State = .awaitingHead
    private var head: HTTP1HeadScanner
    private var body: HTTP1BodyDecoder

    /// The longest request line that fits a target of `maxUriBytes`: method, spaces, version, CRLF.
    private var maxRequestLineBytes: Int { maxUriBytes + 64 }

    init(maxHeaderBytes: Int, maxHeaderCount: Int, maxUriBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxUriBytes = maxUriBytes
        self.head = HTTP1HeadScanner(strictLineEnds: true, hasStartLine: true, maxFields: maxHeaderCount, maxBytes: maxUriBytes + 64 + maxHeaderBytes)
        self.body = HTTP1BodyDecoder(strictLineEnds: true, maxTrailerBytes: maxHeaderBytes, maxTrailerCount: maxHeaderCount)
    }

    /// Whether the parser is between requests (the next bytes, if any, begin a new request).
    var isBetweenRequests: Bool { state == .awaitingHead }

    /// The head just returned has a body framed this way (`.none` still yields an `.end`).
    mutating func startBody(_ framing: HTTP1RequestValidator.BodyFraming) {
        precondition(state == .awaitingFraming, "startBody without a head")
        switch framing {
        case .none: body.start(.none)
        case .contentLength(let length): body.start(.length(length))
        case .chunked: body.start(.chunked)
        }
        state = .body
    }

    /// The next event from `buffer`, consuming the bytes it used; nil when more bytes are needed
    /// (or the body's framing is awaited).
    mutating func next(_ buffer: inout ByteBuffer) throws -> Event? {
        switch state {
        case .awaitingFraming:
            return nil
        case .awaitingHead:
            // Empty lines before a request line are ignored (RFC 9112 section 2.2), CRLF only.
            while head.isAtStart, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == UInt8(ascii: "\r") {
                guard let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return nil }
                guard second == UInt8(ascii: "\n") else { throw HTTP1ParseError.invalidRequestLine }
                buffer.moveReaderIndex(forwardBy: 2)
            }
            guard buffer.readableBytes > 0, let head = try parseHead(&buffer) else { return nil }
            state = .awaitingFraming
            return .head(head)
        case .body:
            let event = try body.next(&buffer)
            switch event {
            case .body(let slice)?:
                return .body(slice)
            case .end(let trailers)?:
                state = .awaitingHead
                return .end(try trailers.flatMap(Self.forwardableTrailers))
            case nil:
                return nil
            }
        }
    }

    // MARK: - Head

    /// The head at the start of `buffer`, once its blank line is there. Its fields stay in the
    /// received bytes, copied once into storage of their own: the exchange keeps the head for as
    /// long as it may retry, and a slice would pin the whole read buffer (and keep SwiftNIO from
    /// reusing it for the next read) all that time.
    /// Whole in one pass when it came in one read, through the scanner otherwise
    /// (`HTTP1HeadScanner.parseHead`).
    private mutating func parseHead(_ buffer: inout ByteBuffer) throws -> ProxyRequestHead? {
        // The scanner is a part of `self`: a copy is worked on while `parseHeadBytes` reads `self`.
        var scanner = head
        let parsed = try scanner.parseHead(buffer) { bytes, complete in try parseHeadBytes(bytes, complete: complete) }
        head = scanner
        guard let line = parsed else {
            // A request line that can no longer fit is a target too long (414's case, said 400).
            if head.isInStartLine, buffer.readableBytes > maxRequestLineBytes { throw HTTP1ParseError.invalidRequest(.uriTooLong) }
            return nil
        }
        // Room for the fields the exchange appends (attempt, request id, trace context).
        var headBytes = ByteBufferAllocator().buffer(capacity: line.length + 256)
        headBytes.writeImmutableBuffer(buffer.readSlice(length: line.length)!)
        return ProxyRequestHead(
            version: HTTPVersion(major: 1, minor: line.minor),
            method: line.method,
            uri: line.uri,
            fields: HTTPFieldBlock(storage: headBytes, locations: line.fields)
        )
    }

    /// Trailers a request may pass on: framing fields in them are an error (they could be merged
    /// into the head by the next hop, as llhttp refused them too); connection-specific fields and
    /// `Host` are dropped (RFC 9110 section 6.5.1).
    private static func forwardableTrailers(_ trailers: HTTPHeaders) throws -> HTTPHeaders? {
        var trailers = trailers
        for (name, _) in trailers {
            if name.utf8.count == 14, name.equalsIgnoringASCIICase("content-length") { throw HTTP1ParseError.invalidHeader }
            if name.utf8.count == 17, name.equalsIgnoringASCIICase("transfer-encoding") { throw HTTP1ParseError.invalidHeader }
        }
        HopByHopHeaders.strip(&trailers)
        trailers.remove(name: "host")
        return trailers.isEmpty ? nil : trailers
    }

    /// A parsed request line and where the head's fields lie.
    private struct RequestLine {
        var method: HTTPMethod
        var uri: String
        var minor: Int
        var fields: [HTTPFieldBlock.Location]
        /// The head's length, its blank line included.
        var length: Int
    }

    /// The request line and fields at the start of `bytes`. `complete`: `bytes` are the head
    /// exactly (the scanner found its end); otherwise they may stop short of its blank line, and
    /// nil says so (every complete line was checked, so an error is thrown as early as it can be).
    private func parseHeadBytes(_ bytes: UnsafeRawBufferPointer, complete: Bool) throws -> RequestLine? {
        guard let newline = HTTP1Syntax.newlineIndex(in: bytes, from: 0, to: bytes.count) else {
            if complete { throw HTTP1ParseError.invalidRequestLine }
            return nil
        }
        guard newline > 0, bytes[newline - 1] == UInt8(ascii: "\r") else { throw HTTP1ParseError.invalidRequestLine }
        let lineEnd = newline - 1
        if lineEnd > maxRequestLineBytes { throw HTTP1ParseError.invalidRequest(.uriTooLong) }
        if complete, bytes.count - (newline + 1) > maxHeaderBytes { throw HTTP1ParseError.headTooLarge }

        // method = token, and here upper case: methods are case-sensitive and every registered
        // one is upper case (a lower-case `head` read as HEAD by the next hop, but not by the
        // proxy, would disagree on whether a body follows). CONNECT is not proxied.
        var index = 0
        while index < lineEnd, HTTP1Syntax.isTokenByte(bytes[index]), !(bytes[index] >= UInt8(ascii: "a") && bytes[index] <= UInt8(ascii: "z")) {
            index += 1
        }
        guard index > 0, index < lineEnd, bytes[index] == UInt8(ascii: " ") else { throw HTTP1ParseError.invalidRequestLine }
        let method = HTTPMethod(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<index]))
        if method.isCONNECT { throw HTTP1ParseError.invalidRequestLine }

        // request-target: visible ASCII (RFC 3986: anything else must be percent-encoded); no
        // whitespace, no control characters, no bytes above 0x7E.
        let targetStart = index + 1
        index = targetStart
        while index < lineEnd, bytes[index] > 0x20, bytes[index] < 0x7F { index += 1 }
        guard index > targetStart, index < lineEnd, bytes[index] == UInt8(ascii: " ") else { throw HTTP1ParseError.invalidRequestLine }
        if index - targetStart > maxUriBytes { throw HTTP1ParseError.invalidRequest(.uriTooLong) }
        let uri = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<index]), as: UTF8.self)

        // HTTP-version: HTTP/1.0 or HTTP/1.1 and nothing after it.
        let version = index + 1
        guard lineEnd - version == 8,
            bytes[version] == UInt8(ascii: "H"), bytes[version + 1] == UInt8(ascii: "T"), bytes[version + 2] == UInt8(ascii: "T"),
            bytes[version + 3] == UInt8(ascii: "P"), bytes[version + 4] == UInt8(ascii: "/"),
            HTTP1Syntax.isDigit(bytes[version + 5]), bytes[version + 6] == UInt8(ascii: "."), HTTP1Syntax.isDigit(bytes[version + 7])
        else { throw HTTP1ParseError.invalidRequestLine }
        guard bytes[version + 5] == UInt8(ascii: "1"), bytes[version + 7] <= UInt8(ascii: "1") else {
            throw HTTP1ParseError.unsupportedVersion
        }
        let minor = Int(bytes[version + 7] &- UInt8(ascii: "0"))

        var locations: [HTTPFieldBlock.Location] = []
        locations.reserveCapacity(16)
        guard let end = try HTTP1Syntax.scanFieldsIfComplete(bytes, from: newline + 1, into: &locations, maxCount: maxHeaderCount, strict: true) else {
            if complete { throw HTTP1ParseError.invalidHeader }  // the scanner found the blank line: not reached
            return nil
        }
        if end - (newline + 1) > maxHeaderBytes { throw HTTP1ParseError.headTooLarge }
        return RequestLine(method: method, uri: uri, minor: minor, fields: locations, length: end)
    }
}

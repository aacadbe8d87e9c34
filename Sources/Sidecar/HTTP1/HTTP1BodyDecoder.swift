import NIOCore
import NIOHTTP1

/// Decodes one HTTP/1.x message body from a connection's `ByteBuffer`s, once its head has said
/// how the body is framed (RFC 9112 section 6): a length, chunked, or until the connection
/// closes. Body bytes are handed on as slices of the received buffers (no copy); chunked bodies
/// are de-chunked (the proxy frames what it forwards itself). Shared by the request and the
/// response parser.
struct HTTP1BodyDecoder {
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        /// Until the connection closes (responses only).
        case untilClose
    }

    enum Event: Equatable {
        case body(ByteBuffer)
        case end(HTTPHeaders?)
    }

    private enum State: Equatable {
        /// No body in progress.
        case done
        case length(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data.
        case chunkDataEnd
        case trailers
        case untilClose
        /// The body is complete: `.end` comes next.
        case endPending
    }

    /// The longest chunk-size line accepted (size, extensions, line end).
    static let maxChunkLineBytes = 1024

    /// Require CRLF line ends (requests); otherwise a bare LF is accepted (responses).
    let strictLineEnds: Bool
    let maxTrailerBytes: Int
    let maxTrailerCount: Int
    private var state: State = .done
    private var trailerScanner: HTTP1HeadScanner

    init(strictLineEnds: Bool, maxTrailerBytes: Int, maxTrailerCount: Int) {
        self.strictLineEnds = strictLineEnds
        self.maxTrailerBytes = maxTrailerBytes
        self.maxTrailerCount = maxTrailerCount
        self.trailerScanner = HTTP1HeadScanner(strictLineEnds: strictLineEnds, hasStartLine: false, maxFields: maxTrailerCount, maxBytes: maxTrailerBytes)
    }

    /// A head announced a body framed this way; `.none` still yields an `.end`.
    mutating func start(_ framing: Framing) {
        trailerScanner.reset()
        switch framing {
        case .none: state = .endPending
        case .length(let length): state = length == 0 ? .endPending : .length(remaining: length)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    /// The next event from `buffer`, consuming the bytes it used; nil when more bytes are needed
    /// (or no body is in progress).
    mutating func next(_ buffer: inout ByteBuffer) throws -> Event? {
        while true {
            switch state {
            case .done:
                return nil
            case .endPending:
                state = .done
                return .end(nil)
            case .length(let remaining):
                guard let (slice, left) = Self.readUpTo(remaining, from: &buffer) else { return nil }
                state = left == 0 ? .endPending : .length(remaining: left)
                return .body(slice)
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkSize:
                guard let size = try parseChunkSize(&buffer) else { return nil }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard let (slice, left) = Self.readUpTo(remaining, from: &buffer) else { return nil }
                state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
                return .body(slice)
            case .chunkDataEnd:
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
                if first == UInt8(ascii: "\n"), !strictLineEnds {
                    buffer.moveReaderIndex(forwardBy: 1)
                } else {
                    guard let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return nil }
                    guard first == UInt8(ascii: "\r"), second == UInt8(ascii: "\n") else { throw HTTP1ParseError.invalidChunk }
                    buffer.moveReaderIndex(forwardBy: 2)
                }
                state = .chunkSize
            case .trailers:
                guard let trailers = try parseTrailers(&buffer) else { return nil }
                state = .done
                return .end(trailers.isEmpty ? nil : trailers)
            }
        }
    }

    /// The connection's input ended: a body that runs until close is complete (`.end`); a body
    /// with a length or chunks was cut short (`truncated`); nil when no body was in progress.
    mutating func inputEnded() throws -> Event? {
        switch state {
        case .untilClose, .endPending:
            state = .done
            return .end(nil)
        case .done:
            return nil
        default:
            state = .done
            throw HTTP1ParseError.truncated
        }
    }

    /// Up to `remaining` bytes of `buffer` as a slice (no copy), and how many remain after it;
    /// nil when `buffer` is empty.
    @inline(__always)
    private static func readUpTo(_ remaining: Int, from buffer: inout ByteBuffer) -> (ByteBuffer, Int)? {
        guard buffer.readableBytes > 0 else { return nil }
        let length = min(remaining, buffer.readableBytes)
        return (buffer.readSlice(length: length)!, remaining - length)
    }

    /// Reads a chunk-size line (hex size, optional `;` extensions, which are ignored; with
    /// `strictLineEnds` they must not hold control characters); nil until the whole line is here.
    /// The line is at most `maxChunkLineBytes`, however it arrives.
    private func parseChunkSize(_ buffer: inout ByteBuffer) throws -> Int? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > Self.maxChunkLineBytes { throw HTTP1ParseError.invalidChunk }
            return nil
        }
        if newline - view.startIndex >= Self.maxChunkLineBytes { throw HTTP1ParseError.invalidChunk }
        var size = 0
        var digits = 0
        var index = view.startIndex
        while index < newline, let value = HTTP1Syntax.hexValue(view[index]) {
            guard digits < 15 else { throw HTTP1ParseError.invalidChunk }
            size = size << 4 | value
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw HTTP1ParseError.invalidChunk }
        var lineEnd = newline
        if lineEnd > index, view[lineEnd - 1] == UInt8(ascii: "\r") {
            lineEnd -= 1
        } else if strictLineEnds {
            throw HTTP1ParseError.invalidChunk
        }
        // What may follow the size: whitespace, then `;` extensions.
        while index < lineEnd, view[index] == UInt8(ascii: " ") || view[index] == UInt8(ascii: "\t") { index += 1 }
        guard index == lineEnd || view[index] == UInt8(ascii: ";") else { throw HTTP1ParseError.invalidChunk }
        while strictLineEnds, index < lineEnd {
            guard HTTP1Syntax.isFieldValueByte(view[index]) else { throw HTTP1ParseError.invalidChunk }
            index += 1
        }
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return size
    }

    /// The trailer section after the last chunk; nil until its blank line is here.
    private mutating func parseTrailers(_ buffer: inout ByteBuffer) throws -> HTTPHeaders? {
        // Usually there is none: just the blank line.
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
            if first == UInt8(ascii: "\n"), !strictLineEnds {
                buffer.moveReaderIndex(forwardBy: 1)
                return HTTPHeaders()
            }
            if first == UInt8(ascii: "\r"), buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == UInt8(ascii: "\n") {
                buffer.moveReaderIndex(forwardBy: 2)
                return HTTPHeaders()
            }
        }
        guard let length = try trailerScanner.scan(buffer) else { return nil }
        var trailers = HTTPHeaders()
        let maxCount = maxTrailerCount
        let strict = strictLineEnds
        _ = try buffer.withUnsafeReadableBytes { bytes in
            try HTTP1Syntax.parseFields(
                UnsafeRawBufferPointer(rebasing: bytes[0..<length]), from: 0, into: &trailers, maxCount: maxCount, strict: strict
            )
        }
        buffer.moveReaderIndex(forwardBy: length)
        return trailers
    }
}

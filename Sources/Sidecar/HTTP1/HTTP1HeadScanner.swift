import NIOCore

/// Finds where a head (a start line and field lines, or a trailer section) ends, as its bytes
/// arrive: each read scans only the bytes it added, line by line, and every complete line is
/// checked as it arrives (its CRLF, the count of lines), so a head sent a byte at a time costs
/// linear time, and a caller cannot park more lines than the limits allow before the blank line.
struct HTTP1HeadScanner {
    /// Require CRLF line ends (requests); otherwise a bare LF ends a line too (responses).
    let strictLineEnds: Bool
    /// Whether the first line is a start line (request or status line) rather than a field.
    let hasStartLine: Bool
    /// Field lines allowed before the blank line.
    let maxFields: Int
    /// Bytes allowed up to and including the blank line.
    let maxBytes: Int
    /// Where the first line not yet complete begins, from the buffer's reader index.
    private var lineStart = 0
    /// Complete lines seen (the start line included).
    private var lines = 0
    /// The head in progress did not parse whole from the bytes first offered: scanned from here on.
    private var triedWhole = false

    init(strictLineEnds: Bool, hasStartLine: Bool, maxFields: Int, maxBytes: Int) {
        self.strictLineEnds = strictLineEnds
        self.hasStartLine = hasStartLine
        self.maxFields = maxFields
        self.maxBytes = maxBytes
    }

    /// Whether nothing of a head has been scanned yet.
    var isAtStart: Bool { lineStart == 0 }

    /// The head's length up to and including its blank line, once it has arrived (and the
    /// scanner is ready for the next head); nil while more bytes are needed. `buffer`'s reader
    /// index must not move between calls for one head.
    mutating func scan(_ buffer: ByteBuffer) throws -> Int? {
        try buffer.withUnsafeReadableBytes { bytes -> Int? in
            let count = min(bytes.count, maxBytes)
            while lineStart < count {
                guard let newline = HTTP1Syntax.newlineIndex(in: bytes, from: lineStart, to: count) else { break }
                let hasCR = newline > lineStart && bytes[newline - 1] == UInt8(ascii: "\r")
                if strictLineEnds, !hasCR {
                    throw hasStartLine && lines == 0 ? HTTP1ParseError.invalidRequestLine : HTTP1ParseError.invalidHeader
                }
                let contentEnd = hasCR ? newline - 1 : newline
                if contentEnd == lineStart, lines > 0 || !hasStartLine {
                    // The blank line.
                    lineStart = 0
                    lines = 0
                    return newline + 1
                }
                lines += 1
                if lines - (hasStartLine ? 1 : 0) > maxFields { throw HTTP1ParseError.tooManyHeaders }
                lineStart = newline + 1
            }
            if bytes.count >= maxBytes { throw HTTP1ParseError.headTooLarge }
            return nil
        }
    }

    /// The head at the start of `buffer`, parsed by `parse`, once its blank line has arrived.
    ///
    /// A head nearly always comes whole in one read, so the bytes first offered for a head go
    /// straight to `parse` with `complete: false` (at most `maxBytes` of them): it parses in one
    /// pass, or returns nil when the blank line is not there yet (throwing at the first bad
    /// complete line). Only then does the scanner take over, checking each line once as it
    /// arrives (a head sent a byte at a time stays linear), and `parse` gets exactly the head's
    /// bytes with `complete: true` once its end is found. `buffer`'s reader index must not move
    /// between calls for one head.
    mutating func parseHead<Head>(
        _ buffer: ByteBuffer,
        _ parse: (_ bytes: UnsafeRawBufferPointer, _ complete: Bool) throws -> Head?
    ) throws -> Head? {
        if isAtStart, !triedWhole {
            let limit = maxBytes
            if let head = try buffer.withUnsafeReadableBytes({ try parse(UnsafeRawBufferPointer(rebasing: $0.prefix(limit)), false) }) {
                return head
            }
            triedWhole = true
        }
        guard let length = try scan(buffer) else { return nil }
        triedWhole = false
        return try buffer.withUnsafeReadableBytes { try parse(UnsafeRawBufferPointer(rebasing: $0.prefix(length)), true) }
    }

    /// Whether the start line is still incomplete.
    var isInStartLine: Bool { hasStartLine && lines == 0 }

    /// Forgets a partly scanned head.
    mutating func reset() {
        lineStart = 0
        lines = 0
        triedWhole = false
    }
}

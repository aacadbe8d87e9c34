#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// The byte-level grammar both HTTP/1.x parsers share (RFC 9110/9112): line and blank-line
/// search, tokens, field lines. Plain loops over the received bytes; a `String` is made only for
/// each field's name and value once it is known to be valid.
enum HTTP1Syntax {
    /// The index of the first `\n` in `bytes[from..<to]` (`memchr`: lines are found a word at a
    /// time, not a byte at a time).
    @inline(__always)
    static func newlineIndex(in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(UInt8(ascii: "\n")), to - from) else { return nil }
        return UnsafeRawPointer(found) - base
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    /// RFC 9110 `tchar`, as a bit set over the ASCII range.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        // Bits set for ! # $ % & ' * + - . 0-9 (low word) and A-Z ^ _ ` a-z | ~ (high word).
        let low: UInt64 = 0x03FF_6CFA_0000_0000
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        if byte < 64 { return (low >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (high >> UInt64(byte - 64)) & 1 == 1 }
        return false
    }

    /// The index of the first byte in `bytes[from..<to]` that is not a `tchar` (`to` when all are).
    /// Eight bytes at a time while they are letters, digits or `-` (what field names are made of),
    /// so that a name shorter than eight bytes takes one step to its colon; other `tchar`s go byte
    /// by byte. The word loads stay within `to`.
    @inline(__always)
    static func tokenEnd(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int {
        guard let base = bytes.baseAddress else { return from }
        var index = from
        while to - index >= 8 {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let plain = commonNameBytes(word)
            if plain == 0x8080_8080_8080_8080 {
                index += 8
                continue
            }
            index += (~plain & 0x8080_8080_8080_8080).trailingZeroBitCount / 8  // the first other byte
            break
        }
        while index < to, isTokenByte(bytes[index]) { index += 1 }
        return index
    }

    /// 0x80 in each byte of `word` that is an ASCII letter, digit or `-`, 0 in the others.
    @inline(__always)
    static func commonNameBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let ascii = ~word & highs
        let low = word & 0x7F7F_7F7F_7F7F_7F7F  // no byte above 0x7F: the sums below carry into no neighbour
        // A byte's high bit after adding (0x80 - c): whether it is >= c; after adding (0x7F - c): > c.
        func atLeast(_ x: UInt64, _ c: UInt8) -> UInt64 { (x &+ ones &* UInt64(0x80 - c)) & highs }
        func above(_ x: UInt64, _ c: UInt8) -> UInt64 { (x &+ ones &* UInt64(0x7F - c)) & highs }
        let folded = low | 0x2020_2020_2020_2020  // upper-case letters to lower case
        let letter = atLeast(folded, UInt8(ascii: "a")) & ~above(folded, UInt8(ascii: "z"))
        let digit = atLeast(low, UInt8(ascii: "0")) & ~above(low, UInt8(ascii: "9"))
        let hyphen = ~((low ^ 0x2D2D_2D2D_2D2D_2D2D) &+ 0x7F7F_7F7F_7F7F_7F7F) & highs  // a zero byte after the xor
        return (letter | digit | hyphen) & ascii
    }

    /// RFC 9110 `field-vchar` plus SP and HTAB: no control characters (a CR, LF or NUL inside a
    /// value is how headers are injected), no DEL; `obs-text` is let through.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == UInt8(ascii: "\t")
    }

    /// Finds the `name: value` lines from `position` up to and including the blank line that
    /// ends them, appending where each name and value lies to `fields`; returns the position
    /// after the blank line.
    ///
    /// Names are tokens with no whitespace before the colon (RFC 9112 section 5.1); obsolete line
    /// folding is an error. `strict` (requests: the hostile side): every line ends in CRLF (a
    /// bare LF is how parsers are made to disagree) and values have no control characters at all.
    /// Otherwise (responses) a bare LF ends a line (RFC 9112 section 2.2 allows it) and only NUL
    /// and CR are refused in values (what could inject a line).
    static func scanFields(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        into fields: inout [HTTPFieldBlock.Location],
        maxCount: Int,
        strict: Bool
    ) throws -> Int {
        guard let end = try scanFieldsIfComplete(bytes, from: start, into: &fields, maxCount: maxCount, strict: strict) else {
            throw HTTP1ParseError.invalidHeader  // the caller found the blank line: this cannot be reached
        }
        return end
    }

    /// `scanFields` on bytes that may not hold the whole block yet: nil when they end before the
    /// blank line (every complete line before that was checked, so an error comes as early as it
    /// can; `fields` then holds the lines seen so far).
    static func scanFieldsIfComplete(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        into fields: inout [HTTPFieldBlock.Location],
        maxCount: Int,
        strict: Bool
    ) throws -> Int? {
        // One pass per line: the name a word at a time up to its colon, then the value a word at
        // a time up to its first control byte, which is (in a valid line) the CR of its CRLF, a
        // bare LF (responses only) or a HTAB inside it. A line found invalid counts as an error
        // only once its LF has arrived, and a full block's line past `maxCount` is reported as
        // such first: the same answers, in the same order, as checking each line once its LF is
        // found (see `HTTP1SyntaxTests`).
        let count = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        @inline(__always) func byte(_ index: Int) -> UInt8 { base.load(fromByteOffset: index, as: UInt8.self) }
        /// The line from `lineStart` is wrong at `index`: an error once the line is complete (its
        /// LF is the first one from `index`: none comes earlier in a line scanned this far), else
        /// more bytes are needed.
        func invalid(at index: Int, lineStart: Int, found: Int) throws -> Int? {
            guard let newline = newlineIndex(in: bytes, from: index, to: count) else { return nil }
            if strict, !(newline > lineStart && byte(newline - 1) == UInt8(ascii: "\r")) { throw HTTP1ParseError.invalidHeader }
            if found == maxCount { throw HTTP1ParseError.tooManyHeaders }
            throw HTTP1ParseError.invalidHeader
        }
        var position = start
        var found = 0
        while true {
            guard position < count else { return nil }
            switch byte(position) {
            case UInt8(ascii: "\r"):
                guard position + 1 < count else { return nil }
                if byte(position + 1) == UInt8(ascii: "\n") { return position + 2 }  // the blank line
                return try invalid(at: position, lineStart: position, found: found)
            case UInt8(ascii: "\n"):
                // A bare LF blank line: the end of a response's block; a request's is an error.
                if strict { throw HTTP1ParseError.invalidHeader }
                return position + 1
            default:
                break
            }
            // A token, then the colon: no whitespace before it, no obsolete line folding.
            let colon = tokenEnd(bytes, from: position, to: count)
            guard colon < count else { return nil }
            guard colon > position, byte(colon) == UInt8(ascii: ":") else { return try invalid(at: colon, lineStart: position, found: found) }
            var valueStart = colon + 1
            while valueStart < count, byte(valueStart) == UInt8(ascii: " ") || byte(valueStart) == UInt8(ascii: "\t") { valueStart += 1 }
            // The first byte below 0x20 or DEL at or after `index`, eight bytes at a time (the
            // lowest flagged byte of a word is exact; bytes above 0x7F are never flagged).
            var index = valueStart
            var lineEnd = -1  // the CR, or the bare LF, that ends the line
            var hasCR = false
            while lineEnd < 0 {
                while count - index >= 8 {
                    // Little-endian, so that the lowest flagged bit is the first byte in memory.
                    let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                    let belowSpace = (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080
                    let flipped = word ^ 0x7F7F_7F7F_7F7F_7F7F
                    let delete = (flipped &- 0x0101_0101_0101_0101) & ~flipped & 0x8080_8080_8080_8080
                    let flagged = belowSpace | delete
                    if flagged == 0 {
                        index += 8
                        continue
                    }
                    index += flagged.trailingZeroBitCount / 8
                    break
                }
                guard index < count else { return nil }
                let current = byte(index)
                if current >= 0x20, current != 0x7F || !strict {
                    index += 1  // a plain byte in the tail, or DEL in a response
                    continue
                }
                switch current {
                case UInt8(ascii: "\r"):
                    guard index + 1 < count else { return nil }
                    guard byte(index + 1) == UInt8(ascii: "\n") else { return try invalid(at: index, lineStart: position, found: found) }
                    lineEnd = index
                    hasCR = true
                case UInt8(ascii: "\n"):
                    if strict { return try invalid(at: index, lineStart: position, found: found) }  // requests end lines with CRLF
                    lineEnd = index
                case UInt8(ascii: "\t"):
                    index += 1
                case 0:
                    return try invalid(at: index, lineStart: position, found: found)
                default:
                    // Other control bytes: refused in requests, let through in responses.
                    if strict { return try invalid(at: index, lineStart: position, found: found) }
                    index += 1
                }
            }
            if found == maxCount { throw HTTP1ParseError.tooManyHeaders }
            var valueEnd = lineEnd
            while valueEnd > valueStart, byte(valueEnd - 1) == UInt8(ascii: " ") || byte(valueEnd - 1) == UInt8(ascii: "\t") { valueEnd -= 1 }
            fields.append(HTTPFieldBlock.Location(
                nameStart: position,
                nameEnd: colon,
                valueStart: valueStart,
                valueEnd: valueEnd,
                // `name: value` CRLF exactly (one space, nothing trailing): copied as it is.
                isCanonicalLine: hasCR && valueEnd == lineEnd && valueStart == colon + 2 && byte(colon + 1) == UInt8(ascii: " ")
            ))
            found += 1
            position = lineEnd + (hasCR ? 2 : 1)
        }
    }

    /// Parses `name: value` lines as `scanFields` does, appending them to `headers` as `String`s
    /// (request heads and trailers, which the proxy core still reads as `HTTPHeaders`); returns
    /// the position after the blank line. The fields go into `HTTPHeaders` in one piece: its
    /// `add` checks every name for ASCII again.
    static func parseFields(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        into headers: inout HTTPHeaders,
        maxCount: Int,
        strict: Bool
    ) throws -> Int {
        var locations: [HTTPFieldBlock.Location] = []
        locations.reserveCapacity(16)
        let position = try scanFields(bytes, from: start, into: &locations, maxCount: maxCount, strict: strict)
        var fields: [(String, String)] = []
        fields.reserveCapacity(locations.count)
        for location in locations {
            fields.append((
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[Int(location.nameStart)..<Int(location.nameEnd)]), as: UTF8.self),
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[Int(location.valueStart)..<Int(location.valueEnd)]), as: UTF8.self)
            ))
        }
        if headers.isEmpty {
            headers = HTTPHeaders(fields)
        } else {
            headers.add(contentsOf: fields)
        }
        return position
    }
}

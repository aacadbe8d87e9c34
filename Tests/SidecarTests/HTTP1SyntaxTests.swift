import XCTest
@testable import Sidecar

final class HTTP1SyntaxTests: XCTestCase {
    /// Every byte value at every place of a value (lengths 1 to 24, so each lane of the
    /// eight-byte words and the tails), alone and next to a byte at or above 0x80, a space or
    /// another control byte: the one-pass scan answers as the line-at-a-time reference does, in
    /// both modes.
    func testFieldValueScanAgreesWithTheReferenceForEveryByteAtEveryPlace() {
        var generator = ConfigTestSupport.SeededGenerator(seed: 7)
        let neighbours: [UInt8?] = [nil, 0x80, 0xFF, 0x20, 0x09, 0x0D, 0x00, 0x7F]
        for strict in [true, false] {
            for length in 1...24 {
                let filler = (0..<length).map { _ in UInt8.random(in: 0x20...0xFF, using: &generator) }
                for place in 0..<length {
                    for byte in 0...255 {
                        var value = filler
                        value[place] = UInt8(byte)
                        if let neighbour = neighbours.randomElement(using: &generator)!, place + 1 < length { value[place + 1] = neighbour }
                        let block = Array("GET / HTTP/1.1\r\nX-V: ".utf8) + value + [13, 10, 13, 10]
                        let expected = Self.outcome(block, from: 16, maxCount: 100, strict: strict, Self.referenceScan)
                        let actual = Self.outcome(block, from: 16, maxCount: 100, strict: strict, HTTP1Syntax.scanFieldsIfComplete)
                        if actual.0 != expected.0 || actual.1 != expected.1 {
                            XCTFail("strict \(strict) value \(value): \(actual) is not \(expected)")
                            return
                        }
                    }
                }
            }
        }
    }

    /// Every string of up to five symbols over the bytes that decide a field line (a letter, the
    /// colon, SP, HTAB, CR, LF, NUL, another control byte, DEL, obs-text), in both modes, with
    /// field limits 0, 1 and 100: the one-pass scan answers as the reference does.
    func testEveryShortInputAgreesWithTheReference() {
        let symbols: [UInt8] = [0x61, 0x3A, 0x20, 0x09, 0x0D, 0x0A, 0x00, 0x01, 0x7F, 0x80]
        var input: [UInt8] = []
        func visit(_ remaining: Int) {
            for strict in [true, false] {
                for maxCount in [0, 1, 100] {
                    let expected = Self.outcome(input, from: 0, maxCount: maxCount, strict: strict, Self.referenceScan)
                    let actual = Self.outcome(input, from: 0, maxCount: maxCount, strict: strict, HTTP1Syntax.scanFieldsIfComplete)
                    if actual.0 != expected.0 || actual.1 != expected.1 {
                        XCTFail("strict \(strict) maxCount \(maxCount) \(input): \(actual) is not \(expected)")
                    }
                }
            }
            guard remaining > 0 else { return }
            for symbol in symbols {
                input.append(symbol)
                visit(remaining - 1)
                input.removeLast()
            }
        }
        visit(5)
    }

    /// The word-at-a-time token scan stops where the byte rule does, for every byte value at every
    /// position of strings of every length up to 40, from any offset.
    func testTokenEndAgreesWithTheByteRule() {
        func reference(_ bytes: [UInt8], from: Int, to: Int) -> Int {
            var index = from
            while index < to, HTTP1Syntax.isTokenByte(bytes[index]) { index += 1 }
            return index
        }
        var generator = SystemRandomNumberGenerator()
        let nameBytes = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-".utf8)
        for length in 0...40 {
            for offset in 0..<3 {
                var base = (0..<offset + length + 4).map { _ in nameBytes.randomElement(using: &generator)! }
                for position in offset..<offset + length {
                    for byte in 0...255 {
                        let saved = base[position]
                        base[position] = UInt8(byte)
                        let expected = reference(base, from: offset, to: offset + length)
                        let actual = base.withUnsafeBytes { HTTP1Syntax.tokenEnd($0, from: offset, to: offset + length) }
                        if actual != expected {
                            XCTFail("length \(length) offset \(offset) byte \(byte) at \(position): \(actual), not \(expected)")
                        }
                        base[position] = saved
                    }
                }
                let clean = base.withUnsafeBytes { HTTP1Syntax.tokenEnd($0, from: offset, to: offset + length) }
                XCTAssertEqual(clean, offset + length)
            }
        }
        // Every byte value against the per-byte classification of the word check.
        for byte in 0...255 {
            let word = UInt64(byte) | 0x6161_6161_6161_6100  // the byte first, then `a`s
            let common = HTTP1Syntax.commonNameBytes(word) & 0x80 != 0
            let expected = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
            XCTAssertEqual(common, expected, "byte \(byte)")
        }
    }

    // MARK: Field lines

    /// The line-at-a-time scan the one-pass `scanFieldsIfComplete` replaced: find the line's LF,
    /// then check the line. Kept as the reference the one-pass scan must agree with.
    private static func referenceScan(
        _ bytes: UnsafeRawBufferPointer, from start: Int, into fields: inout [HTTPFieldBlock.Location], maxCount: Int, strict: Bool
    ) throws -> Int? {
        let count = bytes.count
        var position = start
        var found = 0
        while true {
            guard position < count, let newline = HTTP1Syntax.newlineIndex(in: bytes, from: position, to: count) else { return nil }
            var end = newline
            let hasCR = end > position && bytes[end - 1] == UInt8(ascii: "\r")
            if hasCR {
                end -= 1
            } else if strict {
                throw HTTP1ParseError.invalidHeader
            }
            if end == position { return newline + 1 }
            if found == maxCount { throw HTTP1ParseError.tooManyHeaders }
            var colon = position
            while colon < end, HTTP1Syntax.isTokenByte(bytes[colon]) { colon += 1 }
            guard colon > position, colon < end, bytes[colon] == UInt8(ascii: ":") else { throw HTTP1ParseError.invalidHeader }
            var valueStart = colon + 1
            var valueEnd = end
            while valueStart < valueEnd, bytes[valueStart] == UInt8(ascii: " ") || bytes[valueStart] == UInt8(ascii: "\t") { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == UInt8(ascii: " ") || bytes[valueEnd - 1] == UInt8(ascii: "\t") { valueEnd -= 1 }
            for index in valueStart..<valueEnd {
                let byte = bytes[index]
                let ok = strict ? HTTP1Syntax.isFieldValueByte(byte) : byte != 0 && byte != UInt8(ascii: "\r")
                if !ok { throw HTTP1ParseError.invalidHeader }
            }
            fields.append(HTTPFieldBlock.Location(
                nameStart: position, nameEnd: colon, valueStart: valueStart, valueEnd: valueEnd,
                isCanonicalLine: hasCR && valueEnd == end && valueStart == colon + 2 && bytes[colon + 1] == UInt8(ascii: " ")))
            found += 1
            position = newline + 1
        }
    }

    private enum ScanOutcome: Equatable {
        case complete(Int)
        case needsMore
        case failed(HTTP1ParseError)
    }

    private static func outcome(
        _ bytes: [UInt8], from start: Int, maxCount: Int, strict: Bool,
        _ scan: (UnsafeRawBufferPointer, Int, inout [HTTPFieldBlock.Location], Int, Bool) throws -> Int?
    ) -> (ScanOutcome, [HTTPFieldBlock.Location]) {
        var fields: [HTTPFieldBlock.Location] = []
        do {
            let end = try bytes.withUnsafeBytes { try scan($0, start, &fields, maxCount, strict) }
            return (end.map { .complete($0) } ?? .needsMore, fields)
        } catch let error as HTTP1ParseError {
            return (.failed(error), fields)
        } catch {
            XCTFail("unexpected error \(error)")
            return (.needsMore, fields)
        }
    }

    /// The one-pass scan gives what the line-at-a-time reference gives (the end, "more bytes",
    /// or the same error; the same fields found, canonical-line flags included) on 60,000 field
    /// blocks made from realistic lines with random damage (control bytes, DEL, obs-text, stray
    /// CR or LF, whitespace around names and values, missing colons), cut at random places, with
    /// either line rule and random field limits.
    func testOnePassFieldScanAgreesWithTheLineAtATimeReference() {
        var generator = ConfigTestSupport.SeededGenerator(seed: 2026)
        let lines = [
            "Host: example.com", "Content-Length: 42", "x-request-id: 7d3c0e3b-1f2a-4b6c-9d8e-0a1b2c3d4e5f",
            "Accept: */*", "User-Agent: curl/8.5.0", "Cookie: a=1; b=2", "X-Empty:", "X-Spaces:   padded \t ",
            "Transfer-Encoding: chunked", "Server: nginx", "Date: Fri, 27 Nov 2026 03:00:00 GMT", "A: b",
            "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "X-Long-Header-Name-Here: v",
            "X-Blank: \t ", ": v", "Bad Name: v", " folded", "\tfolded", "X-UTF8: h\u{E9}llo w\u{F6}rld \u{F1}and\u{FA}",
            "X-Ctl: a\u{0B}b\u{1B}c", "X-Del: a\u{7F}b",
        ]
        let damage: [UInt8] = [
            0x00, 0x01, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B, 0x1F, 0x20, 0x21, 0x3A, 0x7E, 0x7F, 0x80, 0xC3, 0xFF, 0x2C, 0x22,
        ]
        let prefixes = ["", "\r\n", "\r", "z", "GET / HTTP/1.1\r\n"].map { Array($0.utf8) }
        for round in 0..<60_000 {
            let strict = round % 2 == 0
            var block: [UInt8] = []
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                block += Array(lines.randomElement(using: &generator)!.utf8)
                block += strict || Bool.random(using: &generator) ? [13, 10] : [10]
            }
            block += strict || Bool.random(using: &generator) ? [13, 10] : [10]
            for _ in 0..<Int.random(in: 0...6, using: &generator) where !block.isEmpty {
                let place = Int.random(in: 0..<block.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: block[place] = damage.randomElement(using: &generator)!
                case 1: block.insert(damage.randomElement(using: &generator)!, at: place)
                case 2: block.insert(contentsOf: [0x0D, 0x0D, 0x0A], at: place)
                default: block.remove(at: place)
                }
            }
            if Bool.random(using: &generator) { block = Array(block.prefix(Int.random(in: 0...block.count, using: &generator))) }
            let before = prefixes.randomElement(using: &generator)!
            let prefix = before.count
            let bytes = before + block
            let maxCount = Bool.random(using: &generator) ? 100 : Int.random(in: 0...4, using: &generator)
            let expected = Self.outcome(bytes, from: prefix, maxCount: maxCount, strict: strict, Self.referenceScan)
            let actual = Self.outcome(bytes, from: prefix, maxCount: maxCount, strict: strict, HTTP1Syntax.scanFieldsIfComplete)
            if actual.0 != expected.0 || actual.1 != expected.1 {
                XCTFail("strict \(strict) maxCount \(maxCount) \(String(decoding: block, as: UTF8.self).debugDescription) \(block): \(actual) is not \(expected)")
                return
            }
        }
    }
}

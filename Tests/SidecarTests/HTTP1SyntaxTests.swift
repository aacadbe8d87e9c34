import XCTest
@testable import Sidecar

final class HTTP1SyntaxTests: XCTestCase {
    /// The word-at-a-time value check agrees with the byte rule for every byte value at every
    /// position of values of every length up to 40, from any offset, in both modes.
    func testFieldValueCheckAgreesWithTheByteRule() {
        func reference(_ bytes: [UInt8], strict: Bool) -> Bool {
            bytes.allSatisfy { strict ? HTTP1Syntax.isFieldValueByte($0) : $0 != 0 && $0 != 13 }
        }
        var generator = SystemRandomNumberGenerator()
        for strict in [true, false] {
            for length in 0...40 {
                for offset in 0..<3 {
                    // Printable ASCII with one byte replaced by each of 0...255 in turn, at a random place.
                    var base = (0..<offset + length).map { _ in UInt8.random(in: 0x20...0x7E, using: &generator) }
                    for byte in 0...255 where length > 0 {
                        let position = offset + Int.random(in: 0..<length, using: &generator)
                        let saved = base[position]
                        base[position] = UInt8(byte)
                        let expected = reference(Array(base[offset...]), strict: strict)
                        let actual = base.withUnsafeBytes { HTTP1Syntax.isValidFieldValue($0, from: offset, to: offset + length, strict: strict) }
                        XCTAssertEqual(actual, expected, "strict \(strict) length \(length) offset \(offset) byte \(byte) at \(position)")
                        base[position] = saved
                    }
                    let clean = base.withUnsafeBytes { HTTP1Syntax.isValidFieldValue($0, from: offset, to: offset + length, strict: strict) }
                    XCTAssertTrue(clean)
                }
            }
        }
        // obs-text (UTF-8) passes in both modes.
        let utf8 = Array("caf\u{E9} na\u{EF}ve \u{1F600} ok".utf8)
        XCTAssertTrue(utf8.withUnsafeBytes { HTTP1Syntax.isValidFieldValue($0, from: 0, to: utf8.count, strict: true) })
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
}

import XCTest

@testable import Sidecar

final class ASCIICaseInsensitiveTests: XCTestCase {
    /// The word fold changes exactly the bytes "A"..."Z", whatever its neighbours.
    func testWordFoldAgreesWithTheByteRule() {
        var generator = SystemRandomNumberGenerator()
        for byte in 0...255 {
            for _ in 0..<8 {
                var bytes = (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) }
                bytes[Int.random(in: 0..<8, using: &generator)] = UInt8(byte)
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let folded = withUnsafeBytes(of: ASCIIWord.lowercased(word)) { Array($0) }
                XCTAssertEqual(folded, bytes.map(\.asciiLowercased), "\(bytes)")
            }
        }
    }

    /// Byte strings of every length up to 40 compare as the byte rule says: equal when only the
    /// case of letters differs, unequal when any other byte does (every value, at every place).
    func testEqualityIgnoringCaseAgreesWithTheByteRule() {
        var generator = SystemRandomNumberGenerator()
        func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
            a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.equalsIgnoringASCIICase(y) } }
        }
        for length in 0...40 {
            let text = (0..<length).map { _ in UInt8.random(in: 0x21...0x7E, using: &generator) }
            let flipped = text.map { byte -> UInt8 in
                let isLetter = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                return isLetter && Bool.random(using: &generator) ? byte ^ 0x20 : byte
            }
            XCTAssertTrue(equal(text, flipped), "\(text) \(flipped)")
            for position in 0..<length {
                for byte in 0...255 {
                    var other = flipped
                    other[position] = UInt8(byte)
                    XCTAssertEqual(equal(text, other), text[position].asciiLowercased == UInt8(byte).asciiLowercased, "length \(length) at \(position) byte \(byte)")
                }
            }
            XCTAssertFalse(equal(text, text + [0x61]))
        }
        XCTAssertTrue(Array("Content-Length".utf8).withUnsafeBytes { $0.equalsIgnoringASCIICase("content-length") })
        XCTAssertFalse(Array("Content-Lengtx".utf8).withUnsafeBytes { $0.equalsIgnoringASCIICase("content-length") })
    }
}

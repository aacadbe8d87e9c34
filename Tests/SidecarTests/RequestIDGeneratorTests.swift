import XCTest
@testable import Sidecar

final class RequestIDGeneratorTests: XCTestCase {
    func testVersion4UUIDText() {
        var generator = RequestIDGenerator()
        var seen = Set<String>()
        for _ in 0..<1000 {
            let bits = generator.nextBits()
            let id = RequestIDGenerator.text(high: bits.high, low: bits.low)
            let bytes = Array(id.utf8)
            XCTAssertEqual(bytes.count, 36, id)
            for (index, byte) in bytes.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    XCTAssertEqual(byte, UInt8(ascii: "-"), id)
                } else {
                    XCTAssertTrue((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte), id)
                }
            }
            XCTAssertEqual(bytes[14], UInt8(ascii: "4"), "version 4: \(id)")
            XCTAssertTrue("89ab".utf8.contains(bytes[19]), "variant 10: \(id)")
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 1000)
    }

    func testEveryBitLandsInItsDigit() {
        XCTAssertEqual(RequestIDGenerator.text(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210), "01234567-89ab-cdef-fedc-ba9876543210")
        XCTAssertEqual(RequestIDGenerator.text(high: 0, low: .max), "00000000-0000-0000-ffff-ffffffffffff")
        for shift in 0..<64 {
            let text = RequestIDGenerator.text(high: 1 << UInt64(shift), low: 0)
            let digits = text.filter { $0 != "-" }
            XCTAssertEqual(digits.count, 32)
            XCTAssertEqual(UInt64(digits.prefix(16), radix: 16), 1 << UInt64(shift), text)
        }
    }
}

import XCTest
@testable import Sidecar

final class RequestIDGeneratorTests: XCTestCase {
    func testVersion4UUIDText() {
        var generator = RequestIDGenerator()
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = generator.next()
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
}

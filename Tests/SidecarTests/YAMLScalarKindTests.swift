import XCTest
import Yams
@testable import Sidecar

/// `YAMLScalarKind` must classify plain scalars exactly as Yams' default (regex) `Resolver` does.
final class YAMLScalarKindTests: XCTestCase {
    private func expected(_ text: String) -> YAMLScalarKind {
        switch Resolver.default.resolveTag(of: Node(text)) {
        case .int: return .int
        case .float: return .float
        case .null: return .null
        default: return .other
        }
    }

    func testKnownScalarsMatchTheDefaultResolver() {
        let samples = ["", "~", "null", "Null", "NULL", "nULL", "0", "-0", "+0", "00", "07", "08", "09", "0_", "0o", "0o7",
                       "0o8", "0b", "0b1", "0b2", "-0b1_0", "0x", "0x1F", "0xg", "+0x_", "1", "12_345", "1__", "_1", "1:20",
                       "1:60", "1:5:09", "1:", "0:30", "1:20.5", "1:20.", "1:20.5e3", "1.", "1.5", ".5", "-.5", "._", ".5e3",
                       ".5e+3", "1e5", "1e", "1E-5", "1.5e+10", "-1.5", ".inf", "-.inf", "+.Inf", ".INF", ".nan", "-.nan",
                       ".NaN", "nan", "inf", "true", "off", "yes", "2001-12-14", "<<", "=", "5s", "64KiB", "127.0.0.1:8080",
                       "1,000", "١٢", "1 ", " 1", "--1", "+-1", "0x1.5", "1.2.3", "e5", "10_000.5_5"]
        for text in samples {
            XCTAssertEqual(YAMLScalarKind.of(plain: text), expected(text), "\"\(text)\"")
        }
    }

    func testRandomScalarsMatchTheDefaultResolver() {
        let alphabet = Array("0123456789_:.-+eEoxbaAfFinN~ ")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...7, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            XCTAssertEqual(YAMLScalarKind.of(plain: text), expected(text), "\"\(text)\"")
        }
    }

    func testQuotedAndTaggedScalars() throws {
        let root = try XCTUnwrap(Yams.compose(yaml: "a: '5'\nb: \"null\"\nc: !!int 5\nd: !!float 1\ne: 5\nf: ~\n", .basic))
        let kinds = Dictionary(uniqueKeysWithValues: try XCTUnwrap(root.mapping).map { ($0.key.string ?? "", YAMLScalarKind.of($0.value)) })
        XCTAssertEqual(kinds, ["a": .other, "b": .other, "c": .int, "d": .float, "e": .int, "f": .null])
    }
}

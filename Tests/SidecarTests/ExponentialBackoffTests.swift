import NIOCore
import XCTest
@testable import Sidecar

/// A deterministic random source (SplitMix64) for reproducible jitter.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class ExponentialBackoffTests: XCTestCase {
    func testCeilingDoublesUpToMax() {
        let backoff = ExponentialBackoff(base: .milliseconds(25), max: .milliseconds(250))
        XCTAssertEqual(backoff.ceiling(forRetry: 1), .milliseconds(25))
        XCTAssertEqual(backoff.ceiling(forRetry: 2), .milliseconds(50))
        XCTAssertEqual(backoff.ceiling(forRetry: 3), .milliseconds(100))
        XCTAssertEqual(backoff.ceiling(forRetry: 4), .milliseconds(200))
        XCTAssertEqual(backoff.ceiling(forRetry: 5), .milliseconds(250))
        XCTAssertEqual(backoff.ceiling(forRetry: 60), .milliseconds(250), "no overflow for large retry counts")
    }

    func testDelaysStayWithinBoundsAndAreSpreadOut() {
        let backoff = ExponentialBackoff(base: .milliseconds(100), max: .seconds(1))
        var random = SeededRandom(state: 42)
        var buckets = Array(repeating: 0, count: 10)
        for _ in 0..<10_000 {
            let delay = backoff.delay(forRetry: 1, using: &random)
            XCTAssertGreaterThanOrEqual(delay, .zero)
            XCTAssertLessThanOrEqual(delay, .milliseconds(100))
            buckets[min(9, Int(delay.nanoseconds / 10_000_000))] += 1
        }
        // Full jitter: uniform over [0, ceiling]; each tenth holds about 1,000 of 10,000 draws.
        for count in buckets { XCTAssertTrue((850...1150).contains(count), "\(buckets)") }
    }
}

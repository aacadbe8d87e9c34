import XCTest
@testable import Sidecar

final class RetryBudgetSimulationTests: XCTestCase {
    /// Steady traffic in which every request wants two retries, starting at arbitrary offsets
    /// within a bucket: over any 10 s the budget never allows more than ratio × requests + min × 10.
    func testSustainedFailuresStayWithinTheBoundFromAnyStartingPoint() {
        for offset in stride(from: Int64(0), to: 100_000_000, by: 7_000_000) {
            var budget = RetryBudget(ratio: 0.2, minRetriesPerSecond: 5)
            var requests = 0
            var retries = 0
            let start: Int64 = 123_400_000_000 + offset
            var now = start
            while now < start + 10_000_000_000 {
                budget.recordRequest(nowNanoseconds: now)
                requests += 1
                for _ in 0..<2 where budget.tryWithdraw(nowNanoseconds: now) { retries += 1 }
                now += 8_000_000
            }
            XCTAssertLessThanOrEqual(Double(retries), 0.2 * Double(requests) + 50, "offset \(offset)")
            XCTAssertGreaterThan(Double(retries), 0.2 * Double(requests) + 40, "the budget is not needlessly strict")
        }
    }
}

import XCTest
@testable import Sidecar

final class RetryBudgetTests: XCTestCase {
    private let second: Int64 = 1_000_000_000

    func testMinimumRetriesAreAvailableWithoutTraffic() {
        var budget = RetryBudget(ratio: 0.2, minRetriesPerSecond: 10)
        var granted = 0
        for _ in 0..<500 where budget.tryWithdraw(nowNanoseconds: 5 * second) { granted += 1 }
        XCTAssertEqual(granted, 100, "10 per second over a 10 s window")
    }

    func testRatioOfRequestsIsAdded() {
        var budget = RetryBudget(ratio: 0.2, minRetriesPerSecond: 0)
        for _ in 0..<1000 { budget.recordRequest(nowNanoseconds: 3 * second) }
        var granted = 0
        for _ in 0..<1000 where budget.tryWithdraw(nowNanoseconds: 3 * second) { granted += 1 }
        XCTAssertEqual(granted, 200)
    }

    func testWindowSlidesOldRequestsAndRetriesOut() {
        var budget = RetryBudget(ratio: 0.5, minRetriesPerSecond: 0)
        for _ in 0..<100 { budget.recordRequest(nowNanoseconds: 0) }
        for _ in 0..<50 { XCTAssertTrue(budget.tryWithdraw(nowNanoseconds: second)) }
        XCTAssertFalse(budget.tryWithdraw(nowNanoseconds: 9 * second), "still inside the 10 s window")
        // A retry stays counted for at least 10 s (at most 10.1 s).
        XCTAssertEqual(budget.totals(nowNanoseconds: 11 * second).retries, 50, "taken at 1 s, still in the window at 11 s")
        let later = 11 * second + second / 5
        XCTAssertEqual(budget.totals(nowNanoseconds: later).requests, 0)
        XCTAssertEqual(budget.totals(nowNanoseconds: later).retries, 0)
        XCTAssertFalse(budget.tryWithdraw(nowNanoseconds: later), "no requests in the window: nothing earned")
        for _ in 0..<10 { budget.recordRequest(nowNanoseconds: later) }
        XCTAssertEqual((0..<10).filter { _ in budget.tryWithdraw(nowNanoseconds: later) }.count, 5)
    }

    func testRetriesNeverExceedRatioTimesRequestsPlusMinimumInAnyWindow() {
        var budget = RetryBudget(ratio: 0.2, minRetriesPerSecond: 10)
        var requests: [Int64: Int] = [:]
        var retries: [Int64: Int] = [:]
        // 30 s of 200 requests per second, each wanting one retry.
        for tick in 0..<(30 * 200) {
            let now = Int64(tick) * second / 200
            budget.recordRequest(nowNanoseconds: now)
            requests[now / second, default: 0] += 1
            if budget.tryWithdraw(nowNanoseconds: now) { retries[now / second, default: 0] += 1 }
        }
        for start in Int64(0)...20 {
            let window = start..<(start + 10)
            let requestSum = window.reduce(0) { $0 + (requests[$1] ?? 0) }
            let retrySum = window.reduce(0) { $0 + (retries[$1] ?? 0) }
            XCTAssertLessThanOrEqual(Double(retrySum), 0.2 * Double(requestSum) + 100 + 0.0001, "window starting at \(start)")
        }
    }
}

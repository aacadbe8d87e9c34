/// A rate-based retry budget, in the manner of linkerd's (and unlike Envoy's concurrency cap):
/// over a sliding window of `windowSeconds`, retries may add at most `ratio` × the requests in
/// the window plus `minRetriesPerSecond` × the window.
///
/// The window is a ring of 100 ms buckets (a retry leaves the window 10 to 10.1 s after it was
/// taken); recording a request costs one integer write and no allocation. One budget lives per cluster per event loop (no lock); the runtime gives each loop
/// an equal share of `minRetriesPerSecond`, so the loops together allow exactly the configured
/// rate. Time is passed in (nanoseconds on any monotonic clock), which keeps it deterministic in tests.
struct RetryBudget {
    let ratio: Double
    let minRetriesPerSecond: Double
    let windowSeconds: Int

    private static let bucketNanoseconds: Int64 = 100_000_000
    private let bucketCount: Int
    private var requests: [Int]
    private var retries: [Int]
    /// The tick (100 ms period) each bucket currently holds (bucket index = tick % bucketCount).
    private var bucketTick: [Int64]

    init(ratio: Double, minRetriesPerSecond: Double, windowSeconds: Int = 10) {
        self.ratio = ratio
        self.minRetriesPerSecond = minRetriesPerSecond
        self.windowSeconds = max(1, windowSeconds)
        // One bucket more than the window: the oldest bucket is partly outside it, so a retry
        // stays counted for at least the full window (never less), keeping the bound strict.
        bucketCount = self.windowSeconds * 10 + 1
        requests = Array(repeating: 0, count: bucketCount)
        retries = Array(repeating: 0, count: bucketCount)
        bucketTick = Array(repeating: Int64.min, count: bucketCount)
    }

    /// A new request arrived (its first attempt): it earns the budget `ratio` retries.
    mutating func recordRequest(nowNanoseconds: Int64) {
        let index = bucket(for: nowNanoseconds)
        requests[index] += 1
    }

    /// Takes one retry from the budget if it allows one now; false when exhausted.
    mutating func tryWithdraw(nowNanoseconds: Int64) -> Bool {
        let index = bucket(for: nowNanoseconds)
        let (requestsInWindow, retriesInWindow) = totals(nowNanoseconds: nowNanoseconds)
        let allowed = ratio * Double(requestsInWindow) + minRetriesPerSecond * Double(windowSeconds)
        guard Double(retriesInWindow + 1) <= allowed + 1e-9 else { return false }
        retries[index] += 1
        return true
    }

    /// Requests and retries recorded in the window ending now.
    func totals(nowNanoseconds: Int64) -> (requests: Int, retries: Int) {
        let tick = nowNanoseconds / Self.bucketNanoseconds
        var requestSum = 0
        var retrySum = 0
        for index in 0..<bucketCount where bucketTick[index] > tick - Int64(bucketCount) && bucketTick[index] <= tick {
            requestSum += requests[index]
            retrySum += retries[index]
        }
        return (requestSum, retrySum)
    }

    private mutating func bucket(for nowNanoseconds: Int64) -> Int {
        let tick = nowNanoseconds / Self.bucketNanoseconds
        let count = Int64(bucketCount)
        let index = Int(((tick % count) + count) % count)
        if bucketTick[index] != tick {
            bucketTick[index] = tick
            requests[index] = 0
            retries[index] = 0
        }
        return index
    }
}

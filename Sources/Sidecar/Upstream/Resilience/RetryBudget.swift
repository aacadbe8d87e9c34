/// A rate-based retry budget, in the manner of linkerd's (and unlike Envoy's concurrency cap):
/// over a sliding window of `windowSeconds`, retries may add at most `ratio` × the requests in
/// the window plus `minRetriesPerSecond` × the window.
///
/// The window is a ring of one-second buckets, so recording costs two integer writes and no
/// allocation. One budget lives per cluster per event loop (no lock); the runtime gives each loop
/// an equal share of `minRetriesPerSecond`, so the loops together allow exactly the configured
/// rate. Time is passed in (nanoseconds on any monotonic clock), which keeps it deterministic in tests.
struct RetryBudget {
    let ratio: Double
    let minRetriesPerSecond: Double
    let windowSeconds: Int

    private var requests: [Int]
    private var retries: [Int]
    /// The second each bucket currently holds (bucket index = second % windowSeconds).
    private var bucketSecond: [Int64]

    init(ratio: Double, minRetriesPerSecond: Double, windowSeconds: Int = 10) {
        self.ratio = ratio
        self.minRetriesPerSecond = minRetriesPerSecond
        self.windowSeconds = max(1, windowSeconds)
        requests = Array(repeating: 0, count: self.windowSeconds)
        retries = Array(repeating: 0, count: self.windowSeconds)
        bucketSecond = Array(repeating: Int64.min, count: self.windowSeconds)
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
        let second = nowNanoseconds / 1_000_000_000
        var requestSum = 0
        var retrySum = 0
        for index in 0..<windowSeconds where bucketSecond[index] > second - Int64(windowSeconds) && bucketSecond[index] <= second {
            requestSum += requests[index]
            retrySum += retries[index]
        }
        return (requestSum, retrySum)
    }

    private mutating func bucket(for nowNanoseconds: Int64) -> Int {
        let second = nowNanoseconds / 1_000_000_000
        let index = Int(((second % Int64(windowSeconds)) + Int64(windowSeconds)) % Int64(windowSeconds))
        if bucketSecond[index] != second {
            bucketSecond[index] = second
            requests[index] = 0
            retries[index] = 0
        }
        return index
    }
}

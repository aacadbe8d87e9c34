/// Counts what a misbehaving HTTP/2 client does on one connection and says when it has done too
/// much: client RST_STREAMs in a sliding window (rapid reset, CVE-2023-44487) and zero-length DATA
/// frames without END_STREAM. A value type with the clock passed in, so it is tested by plain calls.
struct HTTP2FloodGuard: Sendable {
    enum Verdict: Equatable, Sendable {
        case ok
        case rapidReset
        case emptyDataFlood
    }

    private let maxResets: Int
    private let maxEmptyData: Int
    /// One bucket per second of the window: resets counted in that second.
    private var buckets: [Int]
    private var bucketSeconds: [Int64]
    private(set) var emptyDataFrames = 0

    init(
        maxResets: Int = HTTP2Limits.maxResetsPerWindow,
        windowSeconds: Int = HTTP2Limits.resetWindowSeconds,
        maxEmptyData: Int = HTTP2Limits.maxEmptyDataFrames
    ) {
        self.maxResets = maxResets
        self.maxEmptyData = maxEmptyData
        let count = max(1, windowSeconds)
        buckets = Array(repeating: 0, count: count)
        bucketSeconds = Array(repeating: Int64.min, count: count)
    }

    /// Resets counted in the window ending at `nowNanoseconds`.
    func resets(nowNanoseconds: Int64) -> Int {
        let second = nowNanoseconds / 1_000_000_000
        var total = 0
        for index in buckets.indices where bucketSeconds[index] > second - Int64(buckets.count) {
            total += buckets[index]
        }
        return total
    }

    /// Records one RST_STREAM from the client.
    mutating func recordReset(nowNanoseconds: Int64) -> Verdict {
        let second = nowNanoseconds / 1_000_000_000
        let index = Int(((second % Int64(buckets.count)) + Int64(buckets.count)) % Int64(buckets.count))
        if bucketSeconds[index] != second {
            bucketSeconds[index] = second
            buckets[index] = 0
        }
        buckets[index] += 1
        return resets(nowNanoseconds: nowNanoseconds) > maxResets ? .rapidReset : .ok
    }

    /// Records a zero-length DATA frame that did not end its stream.
    mutating func recordEmptyData() -> Verdict {
        emptyDataFrames += 1
        return emptyDataFrames > maxEmptyData ? .emptyDataFlood : .ok
    }
}

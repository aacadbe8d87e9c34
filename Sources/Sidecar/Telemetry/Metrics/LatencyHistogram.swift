/// Request durations in fixed buckets suited to a proxy hop: 0.5 ms to 10 s.
struct LatencyHistogram: Sendable {
    /// Upper bounds in seconds (`le` labels), ascending; +Inf is implicit.
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private static let boundsNanoseconds: [Int64] = bounds.map { Int64($0 * 1e9) }

    /// Per-bucket (not cumulative) counts; the last entry is the +Inf bucket.
    private(set) var counts: [Int] = Array(repeating: 0, count: LatencyHistogram.bounds.count + 1)
    private(set) var count = 0
    private(set) var sumNanoseconds: Int64 = 0

    mutating func record(nanoseconds: Int64) {
        var index = 0
        let bounds = Self.boundsNanoseconds
        while index < bounds.count, nanoseconds > bounds[index] { index += 1 }
        counts[index] += 1
        count += 1
        sumNanoseconds &+= max(0, nanoseconds)
    }

    mutating func add(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        count += other.count
        sumNanoseconds &+= other.sumNanoseconds
    }
}

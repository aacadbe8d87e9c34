/// The requests of one (listener, cluster) pair on one event loop: a count per status code and
/// the latency histogram. Found by two array indexes (`LoopMetrics.route`), so counting a request
/// hashes nothing (two dictionary updates keyed by structs were ~750 instructions a request).
final class RouteMetrics {
    /// Status codes counted in `byCode`; any other (none an HTTP parser accepts) in `otherCodes`.
    static let codeRange = 0..<1000

    /// Requests by status code (index = code; 0 = no response).
    private(set) var byCode = [Int](repeating: 0, count: RouteMetrics.codeRange.count)
    private(set) var otherCodes: [Int: Int] = [:]
    private(set) var durations = LatencyHistogram()
    /// Whether any request was recorded (routes never used are left out of the scrape).
    private(set) var isUsed = false

    func record(code: Int, durationNanoseconds: Int64) {
        if Self.codeRange.contains(code) {
            byCode[code] += 1
        } else {
            otherCodes[code, default: 0] += 1
        }
        durations.record(nanoseconds: durationNanoseconds)
        isUsed = true
    }

    /// Every code with its count, for the scrape.
    func forEachCode(_ body: (Int, Int) -> Void) {
        for (code, count) in byCode.enumerated() where count > 0 { body(code, count) }
        for (code, count) in otherCodes { body(code, count) }
    }
}

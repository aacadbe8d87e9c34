/// The requests of one (listener, cluster) pair on one event loop: a count per status code and
/// the latency histogram. Found by two array indexes (`LoopMetrics.route`), so counting a request
/// hashes nothing (two dictionary updates keyed by structs were ~750 instructions a request).
final class RouteMetrics {
    /// Requests by status code, in the order the codes were first seen: a route answers with a
    /// handful of codes, so a linear search beats hashing and the list stays small.
    private(set) var byCode: [(code: Int, count: Int)] = []
    private(set) var durations = LatencyHistogram()

    func record(code: Int, durationNanoseconds: Int64) {
        if let index = byCode.firstIndex(where: { $0.code == code }) {
            byCode[index].count += 1
        } else {
            byCode.append((code, 1))
        }
        durations.record(nanoseconds: durationNanoseconds)
    }
}

/// One loop's metrics at scrape time, or the sum over loops.
struct MetricsSnapshot: Sendable {
    var requests: [LoopMetrics.RequestKey: Int] = [:]
    var durations: [LoopMetrics.RouteKey: LatencyHistogram] = [:]
    var retries: [LoopMetrics.ClusterReasonKey: Int] = [:]
    var budgetExhausted: [Int: Int] = [:]
    var overflows: [LoopMetrics.ClusterReasonKey: Int] = [:]
    var ejections: [Int: Int] = [:]
    var tlsHandshakes: [LoopMetrics.HandshakeKey: Int] = [:]
    var authzDenied: [Int: Int] = [:]
    var connectionsActive: [TrafficDirection: Int] = [:]
    var bodyTooLargeToRetry: [Int: Int] = [:]
    /// Keyed by (listener index, reason).
    var http2Floods: [LoopMetrics.ClusterReasonKey: Int] = [:]

    mutating func add(_ other: MetricsSnapshot) {
        requests.merge(other.requests, uniquingKeysWith: +)
        for (key, histogram) in other.durations { durations[key, default: LatencyHistogram()].add(histogram) }
        retries.merge(other.retries, uniquingKeysWith: +)
        budgetExhausted.merge(other.budgetExhausted, uniquingKeysWith: +)
        overflows.merge(other.overflows, uniquingKeysWith: +)
        ejections.merge(other.ejections, uniquingKeysWith: +)
        tlsHandshakes.merge(other.tlsHandshakes, uniquingKeysWith: +)
        authzDenied.merge(other.authzDenied, uniquingKeysWith: +)
        connectionsActive.merge(other.connectionsActive, uniquingKeysWith: +)
        bodyTooLargeToRetry.merge(other.bodyTooLargeToRetry, uniquingKeysWith: +)
        http2Floods.merge(other.http2Floods, uniquingKeysWith: +)
    }
}

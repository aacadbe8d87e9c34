import NIOCore

/// Exponential backoff with full jitter: before retry `n` (1-based) wait a uniformly random time in
/// `[0, min(max, base × 2^(n-1))]` (the AWS "full jitter" scheme, as Envoy and linkerd use).
struct ExponentialBackoff: Sendable {
    let base: TimeAmount
    let max: TimeAmount

    init(base: TimeAmount, max: TimeAmount) {
        self.base = base
        self.max = max
    }

    init(_ config: BackoffConfig) {
        self.init(base: config.base, max: config.max)
    }

    /// The ceiling for retry `retry` (1-based), before jitter.
    func ceiling(forRetry retry: Int) -> TimeAmount {
        let shift = Swift.min(Swift.max(retry - 1, 0), 30)
        let (scaled, overflow) = base.nanoseconds.multipliedReportingOverflow(by: Int64(1) << Int64(shift))
        if overflow { return max }
        return .nanoseconds(Swift.min(scaled, max.nanoseconds))
    }

    /// The delay before retry `retry`, drawing the jitter from `random`.
    func delay<R: RandomNumberGenerator>(forRetry retry: Int, using random: inout R) -> TimeAmount {
        let ceiling = ceiling(forRetry: retry).nanoseconds
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceiling, using: &random))
    }
}

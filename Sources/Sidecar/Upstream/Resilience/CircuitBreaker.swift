import Atomics

/// A cluster's circuit-breaker limits for the whole process (CONTRACT: "per cluster, whole
/// process"): connections, requests waiting for a connection, requests in flight, retries in
/// flight. Each is an atomic counter shared by every event loop: taking a slot is one atomic
/// add (no lock), and going over the limit gives the slot back and reports the overflow.
final class CircuitBreaker: Sendable {
    enum Limit: String, CaseIterable, Sendable {
        case connections
        case pendingRequests = "pending_requests"
        case requests
        case retries
    }

    private let maxima: [Int]
    private let counters: [ManagedAtomic<Int>]

    init(_ config: CircuitBreakerConfig) {
        maxima = [config.maxConnections, config.maxPendingRequests, config.maxRequests, config.maxRetries]
        counters = Limit.allCases.map { _ in ManagedAtomic(0) }
    }

    private static func slot(_ limit: Limit) -> Int {
        switch limit {
        case .connections: return 0
        case .pendingRequests: return 1
        case .requests: return 2
        case .retries: return 3
        }
    }

    /// Takes one unit of `limit`; false (nothing taken) when that would exceed the maximum.
    func tryAcquire(_ limit: Limit) -> Bool {
        let slot = Self.slot(limit)
        let after = counters[slot].wrappingIncrementThenLoad(ordering: .relaxed)
        if after > maxima[slot] {
            counters[slot].wrappingDecrement(ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ limit: Limit) {
        counters[Self.slot(limit)].wrappingDecrement(ordering: .relaxed)
    }

    /// Current usage, for the admin API.
    func current(_ limit: Limit) -> Int {
        max(0, counters[Self.slot(limit)].load(ordering: .relaxed))
    }

    func maximum(_ limit: Limit) -> Int {
        maxima[Self.slot(limit)]
    }
}

import Synchronization

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

    private let maxima: (connections: Int, pendingRequests: Int, requests: Int, retries: Int)
    // One `Atomic` per limit, stored inline: no array and no counter object to retain per use.
    private let connections = Atomic<Int>(0)
    private let pendingRequests = Atomic<Int>(0)
    private let requests = Atomic<Int>(0)
    private let retries = Atomic<Int>(0)

    init(_ config: CircuitBreakerConfig) {
        maxima = (config.maxConnections, config.maxPendingRequests, config.maxRequests, config.maxRetries)
    }

    /// Takes one unit of `limit`; false (nothing taken) when that would exceed the maximum.
    func tryAcquire(_ limit: Limit) -> Bool {
        withCounter(limit) { counter, maximum in
            if counter.wrappingAdd(1, ordering: .relaxed).newValue > maximum {
                counter.wrappingSubtract(1, ordering: .relaxed)
                return false
            }
            return true
        }
    }

    func release(_ limit: Limit) {
        withCounter(limit) { counter, _ in counter.wrappingSubtract(1, ordering: .relaxed) }
    }

    /// Current usage, for the admin API.
    func current(_ limit: Limit) -> Int {
        withCounter(limit) { counter, _ in max(0, counter.load(ordering: .relaxed)) }
    }

    func maximum(_ limit: Limit) -> Int {
        withCounter(limit) { _, maximum in maximum }
    }

    /// `limit`'s counter and maximum (an `Atomic` cannot be handed out, only lent).
    @inline(__always)
    private func withCounter<Result>(_ limit: Limit, _ body: (borrowing Atomic<Int>, Int) -> Result) -> Result {
        switch limit {
        case .connections: return body(connections, maxima.connections)
        case .pendingRequests: return body(pendingRequests, maxima.pendingRequests)
        case .requests: return body(requests, maxima.requests)
        case .retries: return body(retries, maxima.retries)
        }
    }
}

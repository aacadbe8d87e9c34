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
        switch limit {
        case .connections: return Self.tryAcquire(connections, maximum: maxima.connections)
        case .pendingRequests: return Self.tryAcquire(pendingRequests, maximum: maxima.pendingRequests)
        case .requests: return Self.tryAcquire(requests, maximum: maxima.requests)
        case .retries: return Self.tryAcquire(retries, maximum: maxima.retries)
        }
    }

    @inline(__always)
    private static func tryAcquire(_ counter: borrowing Atomic<Int>, maximum: Int) -> Bool {
        if counter.wrappingAdd(1, ordering: .relaxed).newValue > maximum {
            counter.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ limit: Limit) {
        switch limit {
        case .connections: connections.wrappingSubtract(1, ordering: .relaxed)
        case .pendingRequests: pendingRequests.wrappingSubtract(1, ordering: .relaxed)
        case .requests: requests.wrappingSubtract(1, ordering: .relaxed)
        case .retries: retries.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    /// Current usage, for the admin API.
    func current(_ limit: Limit) -> Int {
        let value: Int
        switch limit {
        case .connections: value = connections.load(ordering: .relaxed)
        case .pendingRequests: value = pendingRequests.load(ordering: .relaxed)
        case .requests: value = requests.load(ordering: .relaxed)
        case .retries: value = retries.load(ordering: .relaxed)
        }
        return max(0, value)
    }

    func maximum(_ limit: Limit) -> Int {
        switch limit {
        case .connections: return maxima.connections
        case .pendingRequests: return maxima.pendingRequests
        case .requests: return maxima.requests
        case .retries: return maxima.retries
        }
    }
}

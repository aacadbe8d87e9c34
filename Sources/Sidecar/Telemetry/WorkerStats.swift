/// Counters kept by one event loop, without locks or atomics: only that loop writes them, and a
/// scrape reads them by running on the loop. The metrics endpoint sums every loop's counters.
final class WorkerStats {
    struct HandshakeKey: Hashable {
        var direction: TrafficDirection
        var success: Bool
    }

    private(set) var tlsHandshakes: [HandshakeKey: Int] = [:]
    /// By listener name.
    private(set) var authzDenied: [String: Int] = [:]

    func tlsHandshake(direction: TrafficDirection, success: Bool) {
        tlsHandshakes[HandshakeKey(direction: direction, success: success), default: 0] += 1
    }

    func authorizationDenied(listener: String) {
        authzDenied[listener, default: 0] += 1
    }
}

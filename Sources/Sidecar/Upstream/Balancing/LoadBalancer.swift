/// Chooses the endpoint for the next attempt. One instance per cluster per event loop, so a
/// balancer keeps its state without locks.
///
/// Every balancer honours `Endpoint.weight`, considers only endpoints that are members of the list
/// and available (`isMember && endpoint.isAvailable`), prefers any endpoint but `avoid` (the one
/// that just failed, for retries) and returns nil when none is available.
protocol LoadBalancer {
    /// Picks among `endpoints`. `hashKey` is the request's hash key (the `hashOn` header) for the
    /// consistent-hashing balancers; the others ignore it.
    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?, hashKey: Substring?) -> LoopEndpoint?

    /// Reports the latency of a response from `endpoint` (time to its response head), observed at
    /// `nowNanoseconds` (monotonic). Only latency-aware balancers use it.
    mutating func observe(endpoint: LoopEndpoint, latencyNanoseconds: UInt64, nowNanoseconds: UInt64)
}

extension LoadBalancer {
    mutating func observe(endpoint: LoopEndpoint, latencyNanoseconds: UInt64, nowNanoseconds: UInt64) {}

    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?) -> LoopEndpoint? {
        pick(endpoints, avoid: avoid, hashKey: nil)
    }
}

extension LoopEndpoint {
    /// Whether a balancer may pick this endpoint, leaving out `avoid`.
    @inline(__always)
    func isEligible(avoiding avoid: Endpoint?) -> Bool {
        isMember && endpoint !== avoid && endpoint.isAvailable
    }
}

extension Array where Element == LoopEndpoint {
    /// Sum of the weights of the eligible endpoints, and how many there are.
    func eligibleWeight(avoiding avoid: Endpoint?) -> (total: Int, count: Int) {
        var total = 0
        var count = 0
        for candidate in self where candidate.isEligible(avoiding: avoid) {
            total += candidate.endpoint.weight
            count += 1
        }
        return (total, count)
    }

    /// The eligible endpoint whose weight interval holds `target` (0 ≤ target < total weight),
    /// skipping `excluding`. Should availability change between the passes, the last eligible one.
    func endpoint(atWeight target: Int, avoiding avoid: Endpoint?, excluding: LoopEndpoint? = nil) -> LoopEndpoint? {
        var remaining = target
        var last: LoopEndpoint?
        for candidate in self where candidate !== excluding && candidate.isEligible(avoiding: avoid) {
            remaining -= candidate.endpoint.weight
            if remaining < 0 { return candidate }
            last = candidate
        }
        return last
    }

    /// The `index`-th eligible endpoint (0-based), skipping `excluding`; the last eligible one
    /// should availability have changed since they were counted.
    func endpoint(atIndex index: Int, avoiding avoid: Endpoint?, excluding: LoopEndpoint? = nil) -> LoopEndpoint? {
        var remaining = index
        var last: LoopEndpoint?
        for candidate in self where candidate !== excluding && candidate.isEligible(avoiding: avoid) {
            if remaining == 0 { return candidate }
            remaining -= 1
            last = candidate
        }
        return last
    }

    /// An eligible endpoint drawn with probability proportional to its weight; when only `avoid`
    /// is available, `avoid`.
    func weightedRandom(avoiding avoid: Endpoint?, using random: inout some RandomNumberGenerator) -> LoopEndpoint? {
        var avoid = avoid
        var (total, _) = eligibleWeight(avoiding: avoid)
        if total == 0, avoid != nil {
            avoid = nil
            total = eligibleWeight(avoiding: nil).total
        }
        guard total > 0 else { return nil }
        return endpoint(atWeight: Int(random.next(upperBound: UInt(total))), avoiding: avoid)
    }
}

extension Array where Element == LoopEndpoint {
    /// For table-based hashing (ring hash, Maglev): going once round a table of `slots` entries
    /// from `start`, the owner (`owner(slot)` indexes this array) of the first eligible slot.
    func firstEligibleOwner(slots: Int, from start: Int, avoiding avoid: Endpoint?, owner: (Int) -> Int) -> LoopEndpoint? {
        guard contains(where: { $0.isEligible(avoiding: avoid) }) else { return nil }
        var index = start
        for _ in 0..<slots {
            let candidate = self[owner(index)]
            if candidate.isEligible(avoiding: avoid) { return candidate }
            index = index + 1 == slots ? 0 : index + 1
        }
        return nil
    }
}

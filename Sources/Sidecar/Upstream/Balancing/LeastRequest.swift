import Synchronization

/// `least_request`: the power of two choices on requests in flight (Envoy's algorithm).
///
/// Each pick draws two distinct available endpoints, each with probability proportional to its
/// weight, and takes the one with the fewer requests in flight per unit of weight
/// (`activeRequests / weight`, the count across all event loops), the first drawn on a tie. With
/// equal weights this is plain P2C. When nothing is in flight every comparison ties, so the pick
/// is exactly weighted random; under load the comparison keeps `activeRequests` proportional to
/// the weights.
struct LeastRequest<Random: RandomNumberGenerator>: LoadBalancer {
    private var random: Random

    init(random: Random) {
        self.random = random
    }

    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?, hashKey: Substring?) -> LoopEndpoint? {
        if let choice = pickOnce(endpoints, avoid: avoid) { return choice }
        return avoid == nil ? nil : pickOnce(endpoints, avoid: nil)
    }

    private mutating func pickOnce(_ endpoints: [LoopEndpoint], avoid: Endpoint?) -> LoopEndpoint? {
        let (total, count) = endpoints.eligibleWeight(avoiding: avoid)
        guard count > 0,
            let first = endpoints.endpoint(atWeight: Int(random.next(upperBound: UInt(total))), avoiding: avoid)
        else { return nil }
        let rest = total - first.endpoint.weight
        guard count > 1, rest > 0,
            let second = endpoints.endpoint(atWeight: Int(random.next(upperBound: UInt(rest))), avoiding: avoid, excluding: first)
        else { return first }
        // first.active / first.weight <= second.active / second.weight, without division.
        let firstLoad = first.endpoint.activeRequests.load(ordering: .relaxed) * second.endpoint.weight
        let secondLoad = second.endpoint.activeRequests.load(ordering: .relaxed) * first.endpoint.weight
        return firstLoad <= secondLoad ? first : second
    }
}

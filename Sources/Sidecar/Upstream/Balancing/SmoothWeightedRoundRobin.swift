/// Smooth weighted round robin (nginx's algorithm): each pick adds every candidate's weight to its
/// running weight, takes the largest, and subtracts the total from the winner. Weights 5:1:1 give
/// `a a b a c a a`, never a burst of one endpoint's share.
struct SmoothWeightedRoundRobin: LoadBalancer {
    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?, hashKey: Substring?) -> LoopEndpoint? {
        if let choice = pickOnce(endpoints, avoid: avoid) { return choice }
        return avoid == nil ? nil : pickOnce(endpoints, avoid: nil)
    }

    private func pickOnce(_ endpoints: [LoopEndpoint], avoid: Endpoint?) -> LoopEndpoint? {
        var best: LoopEndpoint?
        var total = 0
        for candidate in endpoints where candidate.isEligible(avoiding: avoid) {
            let weight = candidate.endpoint.weight
            candidate.currentWeight += weight
            total += weight
            if best == nil || candidate.currentWeight > best!.currentWeight {
                best = candidate
            }
        }
        best?.currentWeight -= total
        return best
    }
}

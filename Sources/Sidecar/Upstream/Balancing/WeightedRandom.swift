/// `random`: each pick draws an available endpoint with probability proportional to its weight.
struct WeightedRandom<Random: RandomNumberGenerator>: LoadBalancer {
    private var random: Random

    init(random: Random) {
        self.random = random
    }

    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?, hashKey: Substring?) -> LoopEndpoint? {
        endpoints.weightedRandom(avoiding: avoid, using: &random)
    }
}

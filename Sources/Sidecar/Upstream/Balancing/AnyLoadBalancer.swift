import NIOCore

/// The balancer a cluster's `loadBalancing.policy` names, as an enum rather than an existential so
/// the data path makes direct (specialised) calls. Production balancers draw from `FastRandom`.
enum AnyLoadBalancer: LoadBalancer {
    case roundRobin(SmoothWeightedRoundRobin)
    case leastRequest(LeastRequest<FastRandom>)
    case peakEWMA(PeakEWMA<FastRandom>)
    case ringHash(RingHash<FastRandom>)
    case maglev(Maglev<FastRandom>)
    case random(WeightedRandom<FastRandom>)

    /// `clock` gives monotonic nanoseconds (peak EWMA decays its estimates with it).
    init(
        _ config: LoadBalancingConfig,
        random: FastRandom = FastRandom(),
        clock: @escaping () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }
    ) {
        switch config.policy {
        case .roundRobin: self = .roundRobin(SmoothWeightedRoundRobin())
        case .leastRequest: self = .leastRequest(LeastRequest(random: random))
        case .peakEwma: self = .peakEWMA(PeakEWMA(random: random, clock: clock))
        case .ringHash: self = .ringHash(RingHash(random: random))
        case .maglev: self = .maglev(Maglev(random: random))
        case .random: self = .random(WeightedRandom(random: random))
        }
    }

    /// Whether picks use a hash key (ring hash and Maglev).
    var usesHashKey: Bool {
        switch self {
        case .ringHash, .maglev: return true
        case .roundRobin, .leastRequest, .peakEWMA, .random: return false
        }
    }

    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?, hashKey: Substring?) -> LoopEndpoint? {
        switch self {
        case .roundRobin(var balancer):
            // Smooth round robin keeps its state in the `LoopEndpoint`s: nothing to write back.
            return balancer.pick(endpoints, avoid: avoid, hashKey: hashKey)
        case .leastRequest(var balancer):
            defer { self = .leastRequest(balancer) }
            return balancer.pick(endpoints, avoid: avoid, hashKey: hashKey)
        case .peakEWMA(var balancer):
            defer { self = .peakEWMA(balancer) }
            return balancer.pick(endpoints, avoid: avoid, hashKey: hashKey)
        case .ringHash(var balancer):
            defer { self = .ringHash(balancer) }
            return balancer.pick(endpoints, avoid: avoid, hashKey: hashKey)
        case .maglev(var balancer):
            defer { self = .maglev(balancer) }
            return balancer.pick(endpoints, avoid: avoid, hashKey: hashKey)
        case .random(var balancer):
            defer { self = .random(balancer) }
            return balancer.pick(endpoints, avoid: avoid, hashKey: hashKey)
        }
    }

    mutating func observe(endpoint: LoopEndpoint, latencyNanoseconds: UInt64, nowNanoseconds: UInt64) {
        guard case .peakEWMA(var balancer) = self else { return }
        balancer.observe(endpoint: endpoint, latencyNanoseconds: latencyNanoseconds, nowNanoseconds: nowNanoseconds)
        self = .peakEWMA(balancer)
    }
}

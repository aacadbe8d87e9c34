import Synchronization
import Foundation

/// `peak_ewma`: the power of two choices on a latency cost, as linkerd (tower's `PeakEwma`) does.
///
/// Each pick draws two distinct available endpoints uniformly and takes the one with the lower
/// cost = latency estimate × (requests in flight + 1) / weight, the first drawn on a tie.
///
/// The latency estimate is a peak-sensitive EWMA of response latencies: a latency above the
/// estimate replaces it at once (a slowing endpoint is shunned immediately), a lower one is
/// blended in with weight `1 − exp(−Δt/τ)` (τ = 10 s, Δt = time since the previous observation),
/// so it recovers over seconds. When costs are compared the estimate is decayed by `exp(−Δt/τ)`
/// with Δt = time since its last observation, like tower does: an endpoint that had a bad peak
/// and then got no traffic slowly becomes attractive again and is probed, instead of starving.
///
/// Until its first response an endpoint costs `defaultRTT` (linkerd's default, 30 ms: a new
/// endpoint is neither flooded nor starved); its first observation replaces the default rather
/// than being blended with it, since the default is a guess, not a measurement.
///
/// Where the estimate lives: per event loop, in `LoopEndpoint` (this balancer's per-loop state,
/// like smooth round robin's running weight), and each update also publishes it with a relaxed
/// store into the shared `Endpoint.latencyMicroseconds` for the admin API. Keeping it per loop
/// rather than only in the shared endpoint means the estimate and its timestamp change together
/// without a lock or a CAS loop on a packed word, and the data path does no read-modify-write on a
/// cache line other cores write too; each loop sees its own share of the responses, which is
/// plenty to follow an endpoint's latency. The admin value is the latest estimate of any loop.
struct PeakEWMA<Random: RandomNumberGenerator>: LoadBalancer {
    /// Linkerd's default estimate for an endpoint with no observation yet.
    static var defaultRTTNanoseconds: UInt64 { 30_000_000 }
    /// The EWMA's decay time constant τ.
    static var decayNanoseconds: UInt64 { 10_000_000_000 }

    private var random: Random
    /// Monotonic nanoseconds (`NIODeadline.now().uptimeNanoseconds` in production).
    private let clock: () -> UInt64
    private let defaultRTT: Double
    private let decay: Double

    init(
        random: Random,
        defaultRTTNanoseconds: UInt64 = Self.defaultRTTNanoseconds,
        decayNanoseconds: UInt64 = Self.decayNanoseconds,
        clock: @escaping () -> UInt64
    ) {
        self.random = random
        self.clock = clock
        self.defaultRTT = Double(defaultRTTNanoseconds)
        self.decay = Double(max(1, decayNanoseconds))
    }

    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?, hashKey: Substring?) -> LoopEndpoint? {
        if let choice = pickOnce(endpoints, avoid: avoid) { return choice }
        return avoid == nil ? nil : pickOnce(endpoints, avoid: nil)
    }

    private mutating func pickOnce(_ endpoints: [LoopEndpoint], avoid: Endpoint?) -> LoopEndpoint? {
        var count = 0
        for candidate in endpoints where candidate.isEligible(avoiding: avoid) { count += 1 }
        guard count > 0, let first = endpoints.endpoint(atIndex: Int(random.next(upperBound: UInt(count))), avoiding: avoid) else {
            return nil
        }
        guard count > 1,
            let second = endpoints.endpoint(atIndex: Int(random.next(upperBound: UInt(count - 1))), avoiding: avoid, excluding: first)
        else { return first }
        let now = clock()
        return cost(first, now: now) <= cost(second, now: now) ? first : second
    }

    /// The decayed latency estimate × (in flight + 1) / weight.
    func cost(_ candidate: LoopEndpoint, now: UInt64) -> Double {
        let latency = latencyEstimate(candidate, now: now)
        let load = Double(candidate.endpoint.activeRequests.load(ordering: .relaxed) + 1)
        return latency * load / Double(candidate.endpoint.weight)
    }

    /// The estimate in nanoseconds, decayed for the time since its last observation.
    func latencyEstimate(_ candidate: LoopEndpoint, now: UInt64) -> Double {
        guard let estimate = candidate.latencyEstimateNanoseconds else { return defaultRTT }
        let elapsed = now > candidate.latencyObservedAtNanoseconds ? now - candidate.latencyObservedAtNanoseconds : 0
        return elapsed == 0 ? estimate : estimate * exp(-Double(elapsed) / decay)
    }

    mutating func observe(endpoint: LoopEndpoint, latencyNanoseconds: UInt64, nowNanoseconds: UInt64) {
        let latency = Double(latencyNanoseconds)
        let next: Double
        if let estimate = endpoint.latencyEstimateNanoseconds, latency <= estimate {
            let elapsed = nowNanoseconds > endpoint.latencyObservedAtNanoseconds ? nowNanoseconds - endpoint.latencyObservedAtNanoseconds : 0
            let w = exp(-Double(elapsed) / decay)
            next = estimate * w + latency * (1 - w)
        } else {
            // A peak, or the first observation.
            next = latency
        }
        endpoint.latencyEstimateNanoseconds = next
        endpoint.latencyObservedAtNanoseconds = max(endpoint.latencyObservedAtNanoseconds, nowNanoseconds)
        // 0 means "not measured" to the admin API, so a measurement shows as at least 1 µs.
        endpoint.endpoint.latencyMicroseconds.store(max(1, Int((next / 1000).rounded())), ordering: .relaxed)
    }
}

/// Chooses the endpoint for the next attempt. One instance per cluster per event loop, so a
/// balancer keeps its state without locks.
protocol LoadBalancer {
    /// Picks among `endpoints` those that are available, preferring any but `avoid` (the endpoint
    /// that just failed, for retries). Nil when none is available.
    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?) -> LoopEndpoint?
}

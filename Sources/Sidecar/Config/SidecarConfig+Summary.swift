extension SidecarConfig {
    /// One line for `sidecar validate`, e.g.
    /// `valid: service "orders", 1 inbound, 1 outbound listener, 2 clusters (3 endpoints), tracing off`.
    ///
    /// Tracing reads `tracing off` (no `tracing` section), `tracing headers only` (no `otlp`), or
    /// `tracing to http://…/v1/traces (sampleRate 0.5)`.
    public var summary: String {
        func count(_ n: Int, _ singular: String, _ plural: String) -> String {
            "\(n) \(n == 1 ? singular : plural)"
        }
        let listeners = "\(inbound.count) inbound, \(count(outbound.count, "outbound listener", "outbound listeners"))"
        let endpoints = clusters.reduce(0) { $0 + $1.endpoints.count }
        let clusterText = "\(count(clusters.count, "cluster", "clusters")) (\(count(endpoints, "endpoint", "endpoints")))"
        let tracingText: String
        if let tracing {
            if let otlp = tracing.otlp {
                tracingText = "tracing to \(otlp.endpoint) (sampleRate \(tracing.sampleRate))"
            } else {
                tracingText = "tracing headers only"
            }
        } else {
            tracingText = "tracing off"
        }
        return "valid: service \"\(service)\", \(listeners), \(clusterText), \(tracingText)"
    }
}

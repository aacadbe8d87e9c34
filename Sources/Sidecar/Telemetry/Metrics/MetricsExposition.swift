import Prometheus

/// Renders `GET /metrics` (CONTRACT section 5): the sum of every loop's `LoopMetrics`, gauges
/// computed at scrape time, and the control-plane registry (swift-prometheus).
struct MetricsExposition {
    /// Listener names by index, with their direction.
    let listeners: [(name: String, direction: TrafficDirection)]
    /// Cluster names by index.
    let clusters: [String]

    func render(_ totals: MetricsSnapshot, endpointStates: [(cluster: String, state: String, count: Int)], registry: PrometheusCollectorRegistry) -> [UInt8] {
        var writer = PrometheusTextWriter()

        writer.header("sidecar_requests_total", type: "counter", help: "Requests answered, by listener, cluster and status code.")
        for (key, value) in totals.requests.sorted(by: { ($0.key.listener, $0.key.cluster, $0.key.code) < ($1.key.listener, $1.key.cluster, $1.key.code) }) {
            writer.sample("sidecar_requests_total", routeLabels(listener: key.listener, cluster: key.cluster) + [("code", String(key.code))], value)
        }

        writer.header("sidecar_request_duration_seconds", type: "histogram", help: "Time from request head to the end of the response.")
        for (key, histogram) in totals.durations.sorted(by: { ($0.key.listener, $0.key.cluster) < ($1.key.listener, $1.key.cluster) }) {
            let labels = routeLabels(listener: key.listener, cluster: key.cluster)
            var cumulative = 0
            for (index, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative += histogram.counts[index]
                writer.sample("sidecar_request_duration_seconds_bucket", labels + [("le", PrometheusTextWriter.format(bound))], cumulative)
            }
            writer.sample("sidecar_request_duration_seconds_bucket", labels + [("le", "+Inf")], histogram.count)
            writer.sample("sidecar_request_duration_seconds_sum", labels, Double(histogram.sumNanoseconds) / 1e9)
            writer.sample("sidecar_request_duration_seconds_count", labels, histogram.count)
        }

        writer.header("sidecar_upstream_retries_total", type: "counter", help: "Retries sent upstream, by cluster and the reason for the retry.")
        for (key, value) in totals.retries.sorted(by: { ($0.key.cluster, $0.key.reason) < ($1.key.cluster, $1.key.reason) }) {
            writer.sample("sidecar_upstream_retries_total", [("cluster", clusterName(key.cluster)), ("reason", key.reason)], value)
        }

        writer.header("sidecar_retry_budget_exhausted_total", type: "counter", help: "Retries refused by the retry budget.")
        for index in clusters.indices {
            writer.sample("sidecar_retry_budget_exhausted_total", [("cluster", clusters[index])], totals.budgetExhausted[index] ?? 0)
        }

        writer.header("sidecar_upstream_overflow_total", type: "counter", help: "Requests refused by a circuit-breaker limit.")
        for (key, value) in totals.overflows.sorted(by: { ($0.key.cluster, $0.key.reason) < ($1.key.cluster, $1.key.reason) }) {
            writer.sample("sidecar_upstream_overflow_total", [("cluster", clusterName(key.cluster)), ("limit", key.reason)], value)
        }

        writer.header("sidecar_outlier_ejections_total", type: "counter", help: "Endpoints ejected by outlier detection.")
        for index in clusters.indices {
            writer.sample("sidecar_outlier_ejections_total", [("cluster", clusters[index])], totals.ejections[index] ?? 0)
        }

        writer.header("sidecar_retry_body_too_large_total", type: "counter", help: "Requests not retriable because their body exceeded maxBufferedBody.")
        for index in clusters.indices {
            writer.sample("sidecar_retry_body_too_large_total", [("cluster", clusters[index])], totals.bodyTooLargeToRetry[index] ?? 0)
        }

        writer.header("sidecar_endpoints", type: "gauge", help: "Endpoints per cluster and state.")
        for entry in endpointStates {
            writer.sample("sidecar_endpoints", [("cluster", entry.cluster), ("state", entry.state)], entry.count)
        }

        writer.header("sidecar_tls_handshakes_total", type: "counter", help: "TLS handshakes, by direction and result.")
        for direction in [TrafficDirection.inbound, .outbound] {
            for success in [true, false] {
                let value = totals.tlsHandshakes[LoopMetrics.HandshakeKey(direction: direction, success: success)] ?? 0
                writer.sample("sidecar_tls_handshakes_total", [("direction", direction.rawValue), ("result", success ? "success" : "failure")], value)
            }
        }

        writer.header("sidecar_authz_denied_total", type: "counter", help: "Requests refused because the caller's identity is not allowed.")
        for (index, listener) in listeners.enumerated() where listener.direction == .inbound {
            writer.sample("sidecar_authz_denied_total", [("listener", listener.name)], totals.authzDenied[index] ?? 0)
        }

        writer.header("sidecar_connections_active", type: "gauge", help: "Open downstream connections.")
        for direction in [TrafficDirection.inbound, .outbound] {
            writer.sample("sidecar_connections_active", [("direction", direction.rawValue)], totals.connectionsActive[direction] ?? 0)
        }

        writer.header("sidecar_http2_flood_closed_total", type: "counter", help: "HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM, by listener and flood.")
        for (key, value) in totals.http2Floods.sorted(by: { ($0.key.cluster, $0.key.reason) < ($1.key.cluster, $1.key.reason) }) {
            let name = key.cluster >= 0 && key.cluster < listeners.count ? listeners[key.cluster].name : "unknown"
            writer.sample("sidecar_http2_flood_closed_total", [("listener", name), ("reason", key.reason)], value)
        }

        var output = writer.output
        registry.emit(into: &output)
        return output
    }

    private func routeLabels(listener: Int, cluster: Int) -> [(String, String)] {
        let entry = listener >= 0 && listener < listeners.count ? listeners[listener] : (name: "unknown", direction: TrafficDirection.outbound)
        return [("direction", entry.direction.rawValue), ("listener", entry.name), ("cluster", clusterName(cluster))]
    }

    private func clusterName(_ index: Int) -> String {
        index >= 0 && index < clusters.count ? clusters[index] : ""
    }
}

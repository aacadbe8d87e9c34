/// The metrics one event loop records: plain integers, written only by that loop (no lock, no
/// atomic), read at scrape time by a task that runs on the loop and copies them
/// (`snapshot()`); the scrape sums every loop's copy. This keeps metric updates on the data path
/// to a few integer increments.
final class LoopMetrics {
    /// `sidecar_requests_total` and `sidecar_request_duration_seconds`, indexed by listener
    /// index, then cluster index + 1 (0: no cluster); grown as pairs are first seen.
    private var routes: [[RouteMetrics?]] = []
    /// `sidecar_upstream_retries_total` by (cluster, reason).
    private(set) var retries: [ClusterReasonKey: Int] = [:]
    /// `sidecar_retry_budget_exhausted_total` by cluster index.
    private(set) var budgetExhausted: [Int: Int] = [:]
    /// `sidecar_upstream_overflow_total` by (cluster, limit).
    private(set) var overflows: [ClusterReasonKey: Int] = [:]
    /// `sidecar_outlier_ejections_total` by cluster index.
    private(set) var ejections: [Int: Int] = [:]
    /// `sidecar_tls_handshakes_total` by (direction, success).
    private(set) var tlsHandshakes: [HandshakeKey: Int] = [:]
    /// `sidecar_authz_denied_total` by listener index.
    private(set) var authzDenied: [Int: Int] = [:]
    /// `sidecar_connections_active`: this loop's share (may be negative when a connection moved
    /// its accounting; the sum over loops is exact).
    private(set) var connectionsActive: [TrafficDirection: Int] = [:]
    /// Requests whose body was over `maxBufferedBody` and so could not be retried, by cluster.
    private(set) var bodyTooLargeToRetry: [Int: Int] = [:]
    /// `sidecar_http2_flood_closed_total`: HTTP/2 connections closed for a flood, by (listener, reason).
    private(set) var http2Floods: [ClusterReasonKey: Int] = [:]

    struct RequestKey: Hashable {
        var listener: Int
        var cluster: Int  // -1: no cluster (e.g. no route)
        var code: Int
    }

    struct RouteKey: Hashable {
        var listener: Int
        var cluster: Int
    }

    struct ClusterReasonKey: Hashable {
        var cluster: Int
        var reason: String
    }

    struct HandshakeKey: Hashable {
        var direction: TrafficDirection
        var success: Bool
    }

    func recordRequest(listener: Int, cluster: Int, code: Int, durationNanoseconds: Int64) {
        route(listener: listener, cluster: cluster).record(code: code, durationNanoseconds: durationNanoseconds)
    }

    /// The counters of a (listener, cluster) pair (`cluster` -1: no cluster, e.g. no route).
    private func route(listener: Int, cluster: Int) -> RouteMetrics {
        let column = cluster + 1
        if listener < routes.count, column < routes[listener].count, let route = routes[listener][column] { return route }
        while routes.count <= listener { routes.append([]) }
        while routes[listener].count <= column { routes[listener].append(nil) }
        let route = RouteMetrics()
        routes[listener][column] = route
        return route
    }

    func recordRetry(cluster: Int, reason: String) {
        retries[ClusterReasonKey(cluster: cluster, reason: reason), default: 0] += 1
    }

    func recordBudgetExhausted(cluster: Int) { budgetExhausted[cluster, default: 0] += 1 }
    func recordOverflow(cluster: Int, limit: String) { overflows[ClusterReasonKey(cluster: cluster, reason: limit), default: 0] += 1 }
    func recordEjection(cluster: Int) { ejections[cluster, default: 0] += 1 }
    func recordBodyTooLargeToRetry(cluster: Int) { bodyTooLargeToRetry[cluster, default: 0] += 1 }

    func tlsHandshake(direction: TrafficDirection, success: Bool) {
        tlsHandshakes[HandshakeKey(direction: direction, success: success), default: 0] += 1
    }

    /// An HTTP/2 connection closed with GOAWAY ENHANCE_YOUR_CALM (`reason`: what it flooded).
    func recordHTTP2Flood(listener: Int, reason: String) {
        http2Floods[ClusterReasonKey(cluster: listener, reason: reason), default: 0] += 1
    }

    func authorizationDenied(listener: Int) { authzDenied[listener, default: 0] += 1 }

    func connectionsChanged(_ direction: TrafficDirection, by delta: Int) {
        connectionsActive[direction, default: 0] += delta
    }

    /// A copy for the scrape (run on this loop).
    func snapshot() -> MetricsSnapshot {
        var requests: [RequestKey: Int] = [:]
        var durations: [RouteKey: LatencyHistogram] = [:]
        for (listener, row) in routes.enumerated() {
            for (column, route) in row.enumerated() {
                guard let route, !route.byCode.isEmpty else { continue }
                let cluster = column - 1
                for (code, count) in route.byCode { requests[RequestKey(listener: listener, cluster: cluster, code: code)] = count }
                durations[RouteKey(listener: listener, cluster: cluster)] = route.durations
            }
        }
        return MetricsSnapshot(
            requests: requests,
            durations: durations,
            retries: retries,
            budgetExhausted: budgetExhausted,
            overflows: overflows,
            ejections: ejections,
            tlsHandshakes: tlsHandshakes,
            authzDenied: authzDenied,
            connectionsActive: connectionsActive,
            bodyTooLargeToRetry: bodyTooLargeToRetry,
            http2Floods: http2Floods
        )
    }
}

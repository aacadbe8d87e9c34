import Logging
import NIOCore
import NIOHTTP1

/// Active health checking for one cluster (`healthCheck` set): every `interval` (±10 % jitter)
/// each endpoint gets `GET path` with a `timeout`, over mutual TLS when the cluster uses it, on a
/// kept-alive connection of its own. Results move the endpoint's `healthy` flag (read by every
/// balancer) through `HealthCheckState`. Runs on one event loop; it is control-plane traffic.
/// (`@unchecked Sendable`: all mutable state is only touched on `eventLoop`.)
final class HealthChecker: @unchecked Sendable {
    private let cluster: Cluster
    private let config: HealthCheckConfig
    private let worker: WorkerContextBox
    private let logger: Logger
    private var eventLoop: EventLoop { worker.context.eventLoop }
    /// Per endpoint (by object identity), only touched on `eventLoop`.
    private var probes: [ObjectIdentifier: Probe] = [:]
    private var timer: Scheduled<Void>?
    private var stopped = false

    private struct Probe {
        let endpoint: Endpoint
        /// Nil while the endpoint's host name does not resolve (each check then fails).
        var client: SimpleHTTPClient?
        var state: HealthCheckState
        var inFlight = false
    }

    init(cluster: Cluster, config: HealthCheckConfig, worker: WorkerContextBox, logger: Logger) {
        self.cluster = cluster
        self.config = config
        self.worker = worker
        self.logger = logger
    }

    func start() {
        eventLoop.execute { self.runRound() }
    }

    func stop() {
        eventLoop.execute {
            self.stopped = true
            self.timer?.cancel()
            for probe in self.probes.values { probe.client?.close() }
            self.probes.removeAll()
        }
    }

    private func scheduleNextRound() {
        guard !stopped else { return }
        var random = SystemRandomNumberGenerator()
        let interval = config.interval.nanoseconds
        let jitter = Int64.random(in: -(interval / 10)...(interval / 10), using: &random)
        timer = eventLoop.scheduleTask(in: .nanoseconds(max(1_000_000, interval + jitter))) { [self] in
            runRound()
        }
    }

    private func runRound() {
        guard !stopped else { return }
        let current = cluster.endpointSet.endpoints
        var present = Set<ObjectIdentifier>()
        for endpoint in current {
            let id = ObjectIdentifier(endpoint)
            present.insert(id)
            if probes[id] == nil {
                probes[id] = Probe(endpoint: endpoint, client: makeClient(for: endpoint), state: HealthCheckState(
                    unhealthyThreshold: config.unhealthyThreshold,
                    healthyThreshold: config.healthyThreshold
                ))
            }
            check(id)
        }
        for (id, probe) in probes where !present.contains(id) {
            probe.client?.close()
            probes.removeValue(forKey: id)
        }
        scheduleNextRound()
    }

    private func check(_ id: ObjectIdentifier) {
        guard var probe = probes[id], !probe.inFlight else { return }
        if probe.client == nil { probe.client = makeClient(for: probe.endpoint) }
        guard let client = probe.client else {
            record(success: false, for: id)
            return
        }
        probe.inFlight = true
        probes[id] = probe
        var headers = HTTPHeaders()
        headers.add(name: "user-agent", value: "sidecar-health-check")
        client.execute(method: .GET, path: config.path, headers: headers, timeout: config.timeout).whenComplete { [self] result in
            guard probes[id] != nil else { return }
            probes[id]?.inFlight = false
            let success: Bool
            switch result {
            case .success(let response): success = (200..<300).contains(response.status)
            case .failure: success = false
            }
            if !success { probes[id]?.client?.close() }
            record(success: success, for: id)
        }
    }

    private func record(success: Bool, for id: ObjectIdentifier) {
        guard var probe = probes[id] else { return }
        if let healthy = probe.state.record(success: success) {
            probe.endpoint.healthy.store(healthy, ordering: .relaxed)
            logger.info(
                healthy ? "endpoint healthy again" : "endpoint unhealthy",
                metadata: ["cluster": "\(cluster.name)", "endpoint": "\(probe.endpoint.address)"]
            )
        }
        probes[id] = probe
    }

    private func makeClient(for endpoint: Endpoint) -> SimpleHTTPClient? {
        guard let address = try? endpoint.resolvedAddress() else { return nil }
        var prepare: (@Sendable (Channel) -> EventLoopFuture<Void>)?
        if cluster.config.tls.mode == .mutual {
            let worker = self.worker
            let clusterConfig = cluster.config
            prepare = { channel in
                // Probes are HTTP/1.1 whatever the cluster's protocol.
                UpstreamTLS.secure(channel: channel, worker: worker.context, cluster: clusterConfig, endpoint: endpoint, http2: false).map { _ in }
            }
        }
        let host = cluster.config.tls.serverName ?? endpoint.address.host
        return SimpleHTTPClient(eventLoop: eventLoop, address: address, hostHeader: host, maxResponseBody: 64 * 1024, prepareChannel: prepare)
    }
}

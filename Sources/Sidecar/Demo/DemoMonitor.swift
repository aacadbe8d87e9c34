import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Gathers a `DemoSnapshot`: the traffic driver's last second, the apps' own counts, and the
/// frontend sidecar's view of the payments cluster (`GET /v1/clusters`) and resilience counters
/// (`GET /metrics`).
final class DemoMonitor: Sendable {
    private let mesh: DemoMesh
    private let frontendAdmin: DemoAdminClient
    private let driver: DemoTrafficDriver
    private let collector: DemoOTLPReceiver
    private let apps: [String: DemoBackendApp]
    private let durationSeconds: Double
    private let notes: @Sendable (String) -> String
    /// Attempts per endpoint address at the last snapshot, and when it was taken.
    private let previous = NIOLockedValueBox<(attempts: [String: Int], at: NIODeadline)>(([:], .now()))

    init(mesh: DemoMesh, frontendAdmin: DemoAdminClient, driver: DemoTrafficDriver, collector: DemoOTLPReceiver,
         apps: [String: DemoBackendApp], durationSeconds: Double, notes: @escaping @Sendable (String) -> String) {
        self.mesh = mesh
        self.frontendAdmin = frontendAdmin
        self.driver = driver
        self.collector = collector
        self.apps = apps
        self.durationSeconds = durationSeconds
        self.notes = notes
    }

    /// `cumulative`: endpoint shares over the whole run instead of since the last snapshot.
    func snapshot(elapsed: TimeAmount, cumulative: Bool = false) async -> DemoSnapshot {
        var s = DemoSnapshot()
        let now = NIODeadline.now()
        s.elapsedSeconds = Double(elapsed.nanoseconds) / 1e9
        s.durationSeconds = durationSeconds
        let last = previous.withLockedValue { $0 }
        s.windowSeconds = max(0.001, Double((now - last.at).nanoseconds) / 1e9)
        s.window = driver.takeWindow()
        let totals = driver.totals
        if cumulative {
            // The final view: the whole run.
            s.window = DemoTrafficDriver.Window(
                requests: totals.requests, ok: totals.ok, latenciesMs: totals.latenciesMs,
                ledgerRequests: totals.ledgerRequests, ledgerOK: totals.ledgerOK)
            s.windowSeconds = max(0.001, s.elapsedSeconds)
        }
        s.totalRequests = totals.requests
        s.totalOK = totals.ok
        if let flaky = apps["payments-2"] {
            s.flakyRequests = flaky.requests.load(ordering: .relaxed)
            s.flakyFailures = flaky.failures.load(ordering: .relaxed)
        }
        s.spansReceived = collector.spanCount

        let cluster = await frontendAdmin.clusters()?["payments"]
        s.clusterVersion = cluster?.version ?? 0
        s.policy = cluster?.policy ?? "?"
        var attempts: [String: Int] = [:]
        for endpoint in cluster?.endpoints ?? [] { attempts[endpoint.address] = endpoint.totalRequests }
        let base = cumulative ? [:] : last.attempts
        let delta = attempts.mapValues { $0 } .reduce(into: [String: Int]()) { $0[$1.key] = max(0, $1.value - (base[$1.key] ?? 0)) }
        let all = delta.values.reduce(0, +)
        for member in mesh.replicas {
            let address = "127.0.0.1:\(member.listenPort)"
            let endpoint = cluster?.endpoints.first { $0.address == address }
            s.replicas.append(DemoSnapshot.Replica(
                name: member.name, address: address,
                state: endpoint?.state ?? "not in list",
                weight: endpoint?.weight ?? 0,
                share: all == 0 ? nil : Double(delta[address] ?? 0) / Double(all),
                attempts: endpoint?.totalRequests ?? 0,
                latencyMs: endpoint?.latencyMs ?? 0,
                ejections: endpoint?.ejections ?? 0,
                note: notes(member.name)))
        }
        previous.withLockedValue { $0 = (attempts, now) }

        if let metrics = await frontendAdmin.metrics() {
            let retries = DemoAdminClient.sum(metrics, name: "sidecar_upstream_retries_total", labels: ["cluster": "payments"], groupBy: "reason")
            s.retries = Int(retries.total)
            s.retriesByReason = retries.groups.mapValues { Int($0) }.filter { $0.value > 0 }
            s.budgetExhausted = Int(DemoAdminClient.sum(metrics, name: "sidecar_retry_budget_exhausted_total", labels: ["cluster": "payments"]).total)
            s.ejections = Int(DemoAdminClient.sum(metrics, name: "sidecar_outlier_ejections_total", labels: ["cluster": "payments"]).total)
        }
        return s
    }

    /// Successful inbound mTLS handshakes of each inbound sidecar (payments replicas, ledger).
    func inboundHandshakes() async -> [Int] {
        var counts: [Int] = []
        for member in mesh.members where member.name != "frontend" {
            guard let client = try? DemoAdminClient(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), port: member.adminPort) else { continue }
            let metrics = await client.metrics() ?? ""
            await client.close()
            counts.append(Int(DemoAdminClient.sum(metrics, name: "sidecar_tls_handshakes_total", labels: ["direction": "inbound", "result": "success"]).total))
        }
        return counts
    }
}

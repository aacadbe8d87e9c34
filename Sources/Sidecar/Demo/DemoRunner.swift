import Atomics
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import UnixSignals

/// `sidecar demo`: a whole mesh on loopback in one command. Five real `sidecar run` processes
/// (the frontend's, three payments replicas', ledger's) with generated certificates and configs,
/// in-process apps (one flaky, one slow), a control plane pushing endpoints, an OTLP collector,
/// traffic for `duration`, a live view, one sample trace and a parseable summary. Every child is
/// stopped on every way out, Ctrl-C and SIGTERM included.
public enum DemoRunner {
    static let flakyFailureRate = 0.3
    static let slowLatency: TimeAmount = .milliseconds(80)

    public static func run(duration: TimeAmount) async -> Int32 {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let meshBox = NIOLockedValueBox<DemoMesh?>(nil)
        let signalCount = ManagedAtomic<Int>(0)
        let work = Task { await runDemo(duration: duration, group: group, meshBox: meshBox) }
        let signalTask = Task {
            for await signal in signals {
                if signalCount.wrappingIncrementThenLoad(ordering: .relaxed) == 1 {
                    DemoDashboard.emit("\nsidecar demo: \(signal) received, stopping the mesh (again to kill at once)")
                    work.cancel()
                } else {
                    meshBox.withLockedValue { $0 }?.killAll()
                    exit(130)
                }
            }
        }
        var code = await work.value
        // Safety net: every child is stopped whatever happened above (idempotent).
        if let mesh = meshBox.withLockedValue({ $0 }) { await mesh.stop() }
        signalTask.cancel()
        try? await group.shutdownGracefully()
        if signalCount.load(ordering: .relaxed) > 0 { code = 130 }
        return code
    }

    /// The apps, one per inbound sidecar.
    private static func makeApps() -> [String: DemoBackendApp] {
        let caller = DemoMesh.spiffeID("frontend")
        return [
            "payments-1": DemoBackendApp(name: "payments-1", expectedCaller: caller),
            "payments-2": DemoBackendApp(name: "payments-2", behaviour: .init(failureRate: flakyFailureRate), expectedCaller: caller),
            "payments-3": DemoBackendApp(name: "payments-3", behaviour: .init(extraLatency: slowLatency), expectedCaller: caller),
            "ledger": DemoBackendApp(name: "ledger", expectedCaller: caller),
        ]
    }

    private static func note(for name: String) -> String {
        switch name {
        case "payments-2": return "flaky app: \(Int(flakyFailureRate * 100))% 503"
        case "payments-3": return "slow app: +\(slowLatency.nanoseconds / 1_000_000) ms"
        default: return "healthy app"
        }
    }

    private static func runDemo(duration: TimeAmount, group: EventLoopGroup, meshBox: NIOLockedValueBox<DemoMesh?>) async -> Int32 {
        let collector = DemoOTLPReceiver()
        let apps = makeApps()
        let directory: String
        do {
            directory = try DemoMesh.makeDirectory()
        } catch {
            DemoDashboard.emit("sidecar demo: \(error)")
            return 2
        }
        DemoDashboard.emit("sidecar demo: configs, certificates and logs go to \(directory)")
        let mesh: DemoMesh
        do {
            let collectorPort = try await collector.start(group: group)
            var appPorts: [String: Int] = [:]
            for (name, app) in apps { appPorts[name] = try await app.start(group: group) }
            mesh = try DemoMesh(directory: directory, collectorPort: collectorPort, appPorts: appPorts)
            meshBox.withLockedValue { $0 = mesh }
            try mesh.start()
        } catch {
            DemoDashboard.emit("sidecar demo: cannot start: \(error)")
            await stopInProcess(collector: collector, apps: apps)
            return 2
        }
        let code = await runMesh(mesh, duration: duration, group: group, collector: collector, apps: apps)
        await mesh.stop()
        await stopInProcess(collector: collector, apps: apps)
        if code == 130 || Task.isCancelled {
            DemoDashboard.emit("sidecar demo: interrupted; all \(mesh.members.count) sidecars stopped. Configs, certificates and logs kept in \(directory)")
        }
        return code
    }

    private static func stopInProcess(collector: DemoOTLPReceiver, apps: [String: DemoBackendApp]) async {
        for app in apps.values { await app.stop() }
        await collector.stop()
    }

    /// Waits until every sidecar answers `/ready` 200; nil when all are ready, else the problem.
    private static func waitUntilReady(_ mesh: DemoMesh, group: EventLoopGroup, timeout: TimeAmount) async -> String? {
        let deadline = NIODeadline.now() + timeout
        for member in mesh.members {
            guard let client = try? DemoAdminClient(eventLoop: group.next(), port: member.adminPort) else { return "bad port" }
            defer { Task { await client.close() } }
            while true {
                if Task.isCancelled { return "interrupted" }
                if let (child, status) = mesh.exitedChild() {
                    return "sidecar \(child.name) stopped (\(status)) while starting; its log (\(child.logPath)) ends with:\n\(child.logTail())"
                }
                if await client.isReady() { break }
                if NIODeadline.now() > deadline {
                    return "sidecar \(member.name) was not ready after \(timeout.nanoseconds / 1_000_000_000)s; see \(member.logPath)"
                }
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
        }
        return nil
    }

    private static func runMesh(_ mesh: DemoMesh, duration: TimeAmount, group: EventLoopGroup, collector: DemoOTLPReceiver, apps: [String: DemoBackendApp]) async -> Int32 {
        let startedAt = NIODeadline.now()
        if let problem = await waitUntilReady(mesh, group: group, timeout: .seconds(30)) {
            if Task.isCancelled { return 130 }
            DemoDashboard.emit("sidecar demo: \(problem)")
            return 2
        }
        let startup = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
        var intro = ["sidecar demo: \(mesh.members.count) sidecar processes ready in \(String(format: "%.1f", startup))s,"
                     + " each with a certificate from the demo's mesh CA (\(mesh.directory)/certs/ca.pem):"]
        for member in mesh.members {
            let listener = member.name == "frontend" ? "outbound" : "inbound mTLS"
            let app = member.appPort.map { " → app 127.0.0.1:\($0)\(member.name.hasPrefix("payments") ? " (\(note(for: member.name)))" : "")" } ?? " ← the demo's traffic driver (the frontend app)"
            intro.append("  " + DemoDashboard.pad(member.name, 11) + "pid \(mesh.processes.first { $0.name == member.name }?.pid ?? 0)  "
                          + "\(listener) 127.0.0.1:\(member.listenPort)  admin 127.0.0.1:\(member.adminPort)\(app)")
        }
        intro.append("  OTLP collector (in the demo) on 127.0.0.1:\(mesh.collectorPort); every sidecar exports spans to it every 200 ms")
        DemoDashboard.emit(intro.joined(separator: "\n") + "\n")

        guard let frontendAdmin = try? DemoAdminClient(eventLoop: group.next(), port: mesh.frontend.adminPort),
            let controlPlane = try? DemoControlPlane(eventLoop: group.next(), adminPort: mesh.frontend.adminPort),
            let driver = try? DemoTrafficDriver(group: group, outboundPort: mesh.frontend.listenPort)
        else { return 2 }
        let dashboard = DemoDashboard()
        let trafficStart = NIODeadline.now()
        let end = trafficStart + duration
        let replicas = mesh.replicas.map { DemoControlPlane.Endpoint(name: $0.name, port: $0.listenPort, weight: 1) }
        let monitor = DemoMonitor(mesh: mesh, frontendAdmin: frontendAdmin, driver: driver, collector: collector, apps: apps,
                                  durationSeconds: Double(duration.nanoseconds) / 1e9, notes: note(for:))

        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await driver.run(until: end) }
            tasks.addTask {
                // The control plane: replica 3 joins after a quarter of the run; after 60 %, more
                // weight goes to the healthy replica.
                let joinAt = TimeAmount.nanoseconds(max(duration.nanoseconds / 4, 1_000_000_000))
                try? await Task.sleep(nanoseconds: UInt64(joinAt.nanoseconds))
                guard !Task.isCancelled, NIODeadline.now() < end else { return }
                await controlPlane.push(replicas, note: "payments-3 joins", at: NIODeadline.now() - trafficStart)
                let shiftAt = TimeAmount.nanoseconds(duration.nanoseconds * 6 / 10)
                let wait = (trafficStart + shiftAt) - NIODeadline.now()
                if wait > .zero { try? await Task.sleep(nanoseconds: UInt64(wait.nanoseconds)) }
                guard !Task.isCancelled, NIODeadline.now() < end else { return }
                var shifted = replicas
                shifted[0].weight = 3
                await controlPlane.push(shifted, note: "more weight to the healthy payments-1", at: NIODeadline.now() - trafficStart)
            }
            tasks.addTask {
                var reportedExit = false
                var next = trafficStart + .seconds(1)
                while !Task.isCancelled, NIODeadline.now() < end {
                    let wait = min(next, end) - NIODeadline.now()
                    if wait > .zero { try? await Task.sleep(nanoseconds: UInt64(wait.nanoseconds)) }
                    if Task.isCancelled { break }
                    let snapshot = await monitor.snapshot(elapsed: NIODeadline.now() - trafficStart)
                    dashboard.show(snapshot, events: controlPlane.events)
                    if !reportedExit, let (child, status) = mesh.exitedChild() {
                        reportedExit = true
                        DemoDashboard.emit("sidecar demo: sidecar \(child.name) stopped unexpectedly (\(status)); its log ends with:\n\(child.logTail())")
                    }
                    next = next + .seconds(1)
                }
            }
        }
        if Task.isCancelled {
            await frontendAdmin.close()
            await controlPlane.close()
            return 130
        }

        // The end: one last look at the frontend sidecar, then stop the sidecars (they send the
        // spans they still hold while draining) and read the collector.
        let final = await monitor.snapshot(elapsed: NIODeadline.now() - trafficStart, cumulative: true)
        let handshakes = await monitor.inboundHandshakes()
        await frontendAdmin.close()
        await controlPlane.close()
        try? await Task.sleep(nanoseconds: 500_000_000)
        await mesh.stop()
        let totals = driver.totals

        var out: [String] = ["", "── final ──"]
        out += dashboard.lines(final)
        if !totals.failures.isEmpty {
            out.append("  failed calls seen by the frontend app: " + totals.failures.sorted { $0.value > $1.value }.map { "\($0.value) × \($0.key)" }.joined(separator: ", "))
        }
        for event in controlPlane.events { out.append("  [\(DemoDashboard.clock(event.at))] \(event.text)") }

        let tree = DemoTraceTree(
            sidecarName: { span in
                if span.isServer, let port = Int(span.attributes["server.port"] ?? ""), let member = mesh.member(listeningOn: port) { return member.name }
                return span.service
            },
            endpointName: { port in mesh.member(listeningOn: port)?.name })
        let traces = DemoTraceTree.group(collector.allSpans())
        let multi = tree.multiSidecarTraces(traces).count
        out.append("")
        if let traceID = tree.pick(traces, hasRoot: { driver.root(ofTrace: $0) != nil }) {
            out += tree.render(traceID: traceID, spans: traces[traceID]!, root: driver.root(ofTrace: traceID))
        } else {
            out.append("no trace with spans from two sidecars was received")
        }

        let apps = Array(apps.values)
        let appsAuthenticated = apps.allSatisfy { $0.requests.load(ordering: .relaxed) > 0 && $0.authenticated.load(ordering: .relaxed) == $0.requests.load(ordering: .relaxed) }
        let mtls = appsAuthenticated && handshakes.count == mesh.members.count - 1 && handshakes.allSatisfy { $0 > 0 }
        let p50 = DemoTrafficDriver.quantile(totals.latenciesMs, 0.5) ?? 0
        let p99 = DemoTrafficDriver.quantile(totals.latenciesMs, 0.99) ?? 0
        let success = totals.requests == 0 ? 0 : Double(totals.ok) * 100 / Double(totals.requests)
        let flaky = (final.flakyFailureRate ?? 0) * 100
        let slowShare = final.replicas.last?.share.map { $0 * 100 } ?? 0
        out.append("")
        out.append("what happened: payments-2 failed \(String(format: "%.1f%%", flaky)) of its requests, yet the frontend app saw \(String(format: "%.1f%%", success)) success:"
                   + " its sidecar retried \(final.retries) attempts on another replica and ejected payments-2 \(final.ejections) time(s);"
                   + " least_request gave the slow payments-3 \(String(format: "%.0f%%", slowShare)) of the attempts.")
        out.append("configs, certificates and logs kept in \(mesh.directory); run one sidecar again by hand with:")
        out.append("  \(DemoMesh.executablePath()) run --config \(mesh.frontend.configPath)")
        func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
        out.append("summary: mtls=\(mtls ? "yes" : "no") sidecars=\(mesh.members.count) requests=\(totals.requests)"
                   + " success_rate=\(fixed(success, 1))% flaky_failure_rate=\(fixed(flaky, 1))% ejections=\(final.ejections)"
                   + " retries=\(final.retries) budget_exhausted=\(final.budgetExhausted) p50_ms=\(fixed(p50, 1)) p99_ms=\(fixed(p99, 1))"
                   + " slow_replica_share=\(fixed(slowShare, 0))% ledger_http2_ok=\(totals.ledgerOK)/\(totals.ledgerRequests)"
                   + " endpoint_pushes=\(controlPlane.pushes) spans=\(collector.spanCount) traces_with_multiple_sidecars=\(multi)"
                   + " configs=\(mesh.directory)")
        DemoDashboard.emit(out.joined(separator: "\n"))
        return totals.requests > 0 && mtls ? 0 : 1
    }
}

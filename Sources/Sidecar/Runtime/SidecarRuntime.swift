import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The running proxy: event loops, clusters, listeners, admin server, access log and drain.
///
/// `start()` binds everything (a failure is a `StartupError`, exit code 2); `drain()` stops
/// accepting, lets in-flight requests finish for up to `drainTimeout`, then closes everything;
/// `waitUntilStopped()` returns when that is done.
public final class SidecarRuntime: Sendable {
    public let config: SidecarConfig
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let clusterManager: ClusterManager
    let drainState = DrainState()
    let workers: [WorkerContextBox]
    private let accessLogWriter: AccessLogWriter?
    let identityReloader: IdentityReloader?
    let controlMetrics = ControlPlaneMetrics()
    /// Sends recorded spans to `tracing.otlp.endpoint`; nil without `tracing.otlp`.
    let traceExporter: OTLPExporter?
    /// Listener names and directions by `ListenerContext.index` (inbound first, then outbound).
    let listenerTable: [(name: String, direction: TrafficDirection)]
    private let state = NIOLockedValueBox(State())
    private let stopped: EventLoopPromise<Void>

    private struct State {
        var listenerChannels: [Channel] = []
        var timers: [RepeatedTask] = []
        var healthCheckers: [HealthChecker] = []
        var adminChannel: Channel?
        var boundAddresses: [(name: String, address: SocketAddress)] = []
        var ready = false
    }

    public init(config: SidecarConfig, workerCount: Int, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, workerCount))
        self.clusterManager = ClusterManager(config: config)
        self.listenerTable = config.inbound.map { ($0.name, TrafficDirection.inbound) } + config.outbound.map { ($0.name, TrafficDirection.outbound) }
        switch config.accessLog.path {
        case .off: accessLogWriter = nil
        case .stdout: accessLogWriter = try AccessLogWriter(path: nil, droppedBatches: controlMetrics.accessLogDroppedBatches)
        case .file(let path):
            do {
                accessLogWriter = try AccessLogWriter(path: path, droppedBatches: controlMetrics.accessLogDroppedBatches)
            } catch {
                throw StartupError(String(describing: error))
            }
        }
        var workers: [WorkerContextBox] = []
        let tracingSettings = config.tracing.map { TracingSettings($0, loopCount: max(1, workerCount)) }
        var traceSources: [OTLPExporter.Source] = []
        for eventLoop in group.makeIterator() {
            let buffer = accessLogWriter.map { AccessLogBuffer(writer: $0, eventLoop: eventLoop) }
            let tracer = tracingSettings.map { LoopTracer(settings: $0) }
            if let tracer { traceSources.append(OTLPExporter.Source(eventLoop: eventLoop, tracer: tracer)) }
            let worker = WorkerContext(eventLoop: eventLoop, drain: drainState, accessLog: buffer, tracer: tracer, logger: logger)
            let box = WorkerContextBox(context: worker)
            let loopClusters = clusterManager.clusters.map { cluster -> LoopCluster in
                var secure: UpstreamConnector.SecureChannel?
                if cluster.config.tls.mode == .mutual {
                    let clusterConfig = cluster.config
                    secure = { channel, endpoint, http2 in
                        UpstreamTLS.secure(channel: channel, worker: box.context, cluster: clusterConfig, endpoint: endpoint, http2: http2)
                    }
                }
                return LoopCluster(cluster: cluster, eventLoop: eventLoop, loopCount: workerCount, secureChannel: secure)
            }
            worker.setClusters(loopClusters)
            workers.append(box)
        }
        self.workers = workers
        clusterManager.setWorkers(workers)

        if let identityConfig = config.identity, config.needsIdentity {
            let allWorkers = workers
            let reloader = try IdentityReloader(config: identityConfig, serverALPN: MeshALPN.server, metrics: controlMetrics, logger: logger) { snapshot in
                for worker in allWorkers {
                    worker.context.eventLoop.execute { worker.context.identity = snapshot }
                }
            }
            for worker in workers { worker.context.identity = reloader.current }
            identityReloader = reloader
        } else if config.needsIdentity {
            throw StartupError("identity: required because TLS is mutual")
        } else {
            identityReloader = nil
        }
        // Last, so that a failure above leaves no exporter thread behind.
        if let otlp = config.tracing?.otlp, case .success(let endpoint) = HTTPEndpointURL.parse(otlp.endpoint) {
            traceExporter = OTLPExporter(
                config: otlp, endpoint: endpoint, serviceName: config.service,
                sources: traceSources, metrics: controlMetrics, logger: logger
            )
        } else {
            traceExporter = nil
        }
        self.stopped = group.any().makePromise(of: Void.self)
    }

    /// Whether every listener is bound and the sidecar is not draining (`GET /ready`).
    public var isReady: Bool { state.withLockedValue { $0.ready } && !drainState.isDraining }
    public var isDraining: Bool { drainState.isDraining }

    /// The address each listener (and `admin`) is bound to, by name, in start order.
    public var boundAddresses: [(name: String, address: SocketAddress)] {
        state.withLockedValue { $0.boundAddresses }
    }

    /// Binds the admin server and every listener. Throws `StartupError` naming the port on failure.
    public func start() async throws {
        do {
            let admin = try await AdminServer.bind(runtime: self, address: config.admin.listen, group: group)
            record(name: "admin", channel: admin, isAdmin: true)
            for (index, inbound) in config.inbound.enumerated() {
                guard let clusterIndex = clusterManager.localAppClusterIndex(for: inbound) else { continue }
                let context = ListenerContext(
                    name: inbound.name,
                    index: index,
                    direction: .inbound,
                    target: .localApp(clusterIndex: clusterIndex),
                    tls: inbound.tls,
                    timeouts: inbound.timeouts,
                    limits: config.limits,
                    allow: inbound.allow
                )
                let channel = try await ProxyListener.bind(context, address: inbound.listen, group: group, workers: workers)
                record(name: "inbound/\(inbound.name)", channel: channel, isAdmin: false)
            }
            for (index, outbound) in config.outbound.enumerated() {
                let routes = RouteTable(outbound.routes) { [clusterManager] name in clusterManager.cluster(named: name)?.index }
                let context = ListenerContext(
                    name: outbound.name,
                    index: config.inbound.count + index,
                    direction: .outbound,
                    target: .routes(routes),
                    timeouts: outbound.timeouts,
                    limits: config.limits
                )
                let channel = try await ProxyListener.bind(context, address: outbound.listen, group: group, workers: workers)
                record(name: "outbound/\(outbound.name)", channel: channel, isAdmin: false)
            }
        } catch {
            await shutdownAfterFailedStart()
            throw error
        }
        identityReloader?.start(on: group.any())
        startOutlierSweeps()
        startHealthChecks()
        traceExporter?.start()
        state.withLockedValue { $0.ready = true }
    }

    /// Ends outlier ejections on time: each cluster's detector is swept at least every
    /// `outlierDetection.interval` (and every 250 ms at most, so ejections end promptly).
    private func startOutlierSweeps() {
        let loop = group.any()
        var timers: [RepeatedTask] = []
        for cluster in clusterManager.publicClusters {
            let period = min(cluster.config.outlierDetection.interval, .milliseconds(250))
            let detector = cluster.outlierDetector
            timers.append(loop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
                detector.sweep(now: .now())
            })
        }
        state.withLockedValue { $0.timers.append(contentsOf: timers) }
    }

    /// One checker per cluster with `healthCheck`, each on one worker loop (spread round robin).
    private func startHealthChecks() {
        var checkers: [HealthChecker] = []
        for (index, cluster) in clusterManager.publicClusters.enumerated() {
            guard let config = cluster.config.healthCheck else { continue }
            let checker = HealthChecker(cluster: cluster, config: config, worker: workers[index % workers.count], logger: logger)
            checker.start()
            checkers.append(checker)
        }
        state.withLockedValue { $0.healthCheckers = checkers }
    }

    private func record(name: String, channel: Channel, isAdmin: Bool) {
        state.withLockedValue { state in
            if isAdmin {
                state.adminChannel = channel
            } else {
                state.listenerChannels.append(channel)
            }
            if let address = channel.localAddress {
                state.boundAddresses.append((name, address))
            }
        }
    }

    /// Starts the graceful drain (SIGTERM, SIGINT, `POST /v1/drain`). Safe to call more than once.
    public func drain() {
        guard drainState.startDraining() else { return }
        logger.info("draining", metadata: ["timeout": "\(config.drainTimeout)"])
        let listeners = state.withLockedValue { $0.listenerChannels }
        for channel in listeners { channel.close(promise: nil) }
        for worker in workers {
            worker.context.eventLoop.execute {
                worker.context.connections.quiesceAll()
            }
        }
        let loop = group.any()
        let deadline = NIODeadline.now() + config.drainTimeout
        let drainState = self.drainState
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { [self] task in
            if drainState.inFlightRequests <= 0 || NIODeadline.now() >= deadline {
                task.cancel()
                if drainState.inFlightRequests > 0 {
                    logger.warning("drain timeout reached with requests in flight", metadata: ["inFlight": "\(drainState.inFlightRequests)"])
                }
                finishStopping()
            }
        }
    }

    private func finishStopping() {
        identityReloader?.stop()
        for timer in state.withLockedValue({ $0.timers }) { timer.cancel() }
        for checker in state.withLockedValue({ $0.healthCheckers }) { checker.stop() }
        let futures = workers.map { worker in
            worker.context.eventLoop.submit {
                worker.context.connections.closeAll()
                for cluster in worker.context.clusters { cluster.closeAllIdle() }
                worker.context.accessLog?.stop()
            }
        }
        let admin = state.withLockedValue { $0.adminChannel }
        EventLoopFuture.andAllComplete(futures, on: group.any()).flatMap { [self] _ -> EventLoopFuture<Void> in
            // Spans recorded until now go out, within a bounded wait.
            guard let traceExporter else { return group.any().makeSucceededVoidFuture() }
            return traceExporter.flush(within: .seconds(2)).hop(to: group.any())
        }.whenComplete { [self] _ in
            accessLogWriter?.flushSync()
            if let admin {
                admin.close().whenComplete { _ in self.stopped.succeed(()) }
            } else {
                stopped.succeed(())
            }
        }
    }

    /// Returns once a drain has finished.
    public func waitUntilStopped() async {
        try? await stopped.futureResult.get()
    }

    /// Stops the event loops (after `waitUntilStopped`).
    public func shutdown() async {
        try? await group.shutdownGracefully()
        await traceExporter?.shutdownThread()
    }

    private func shutdownAfterFailedStart() async {
        let channels = state.withLockedValue { state -> [Channel] in
            var all = state.listenerChannels
            if let admin = state.adminChannel { all.append(admin) }
            return all
        }
        for channel in channels { try? await channel.close() }
        stopped.succeed(())
    }

    /// SIGHUP: reopens the access log file and re-reads the identity files now.
    public func reload() {
        accessLogWriter?.reopen()
        identityReloader?.reloadIfChanged()
    }
}

extension SidecarRuntime {
    /// The effective configuration as JSON (`GET /v1/config`).
    func configJSON() -> [UInt8] {
        config.jsonData()
    }

    /// Prometheus text (`GET /metrics`): every loop's counters, summed, plus gauges and the
    /// control-plane registry. Each loop copies its own counters on its own thread.
    func metricsText(on eventLoop: EventLoop) -> EventLoopFuture<[UInt8]> {
        let snapshots = workers.map { worker in
            worker.context.eventLoop.submit { worker.context.metrics.snapshot() }
        }
        return EventLoopFuture.whenAllSucceed(snapshots, on: eventLoop).map { [self] snapshots in
            var totals = MetricsSnapshot()
            for snapshot in snapshots { totals.add(snapshot) }
            let exposition = MetricsExposition(
                listeners: listenerTable,
                clusters: clusterManager.clusters.map(\.name)
            )
            return exposition.render(totals, endpointStates: endpointStateCounts(), registry: controlMetrics.registry)
        }
    }

    /// `sidecar_endpoints{cluster,state}` for the operator-visible clusters.
    func endpointStateCounts() -> [(cluster: String, state: String, count: Int)] {
        var result: [(cluster: String, state: String, count: Int)] = []
        for cluster in clusterManager.publicClusters {
            var counts: [String: Int] = ["healthy": 0, "unhealthy": 0, "ejected": 0, "draining": 0]
            for endpoint in cluster.endpointSet.endpoints { counts[endpoint.stateName, default: 0] += 1 }
            for state in ["healthy", "unhealthy", "ejected", "draining"] {
                result.append((cluster.name, state, counts[state] ?? 0))
            }
        }
        return result
    }
}

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
    private let state = NIOLockedValueBox(State())
    private let stopped: EventLoopPromise<Void>

    private struct State {
        var listenerChannels: [Channel] = []
        var adminChannel: Channel?
        var boundAddresses: [(name: String, address: SocketAddress)] = []
        var ready = false
    }

    public init(config: SidecarConfig, workerCount: Int, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, workerCount))
        self.clusterManager = ClusterManager(config: config)
        switch config.accessLog.path {
        case .off: accessLogWriter = nil
        case .stdout: accessLogWriter = try AccessLogWriter(path: nil)
        case .file(let path):
            do {
                accessLogWriter = try AccessLogWriter(path: path)
            } catch {
                throw StartupError(String(describing: error))
            }
        }
        var workers: [WorkerContextBox] = []
        for eventLoop in group.makeIterator() {
            let buffer = accessLogWriter.map { AccessLogBuffer(writer: $0, eventLoop: eventLoop) }
            let worker = WorkerContext(eventLoop: eventLoop, drain: drainState, accessLog: buffer)
            let loopClusters = clusterManager.clusters.map { cluster in
                LoopCluster(cluster: cluster, eventLoop: eventLoop, secureChannel: nil)
            }
            worker.setClusters(loopClusters)
            workers.append(WorkerContextBox(context: worker))
        }
        self.workers = workers
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
            for inbound in config.inbound {
                guard let clusterIndex = clusterManager.localAppClusterIndex(for: inbound) else { continue }
                let context = ListenerContext(
                    name: inbound.name,
                    direction: .inbound,
                    target: .localApp(clusterIndex: clusterIndex),
                    timeouts: inbound.timeouts,
                    limits: config.limits,
                    allow: inbound.allow
                )
                let channel = try await ProxyListener.bind(context, address: inbound.listen, group: group, workers: workers)
                record(name: "inbound/\(inbound.name)", channel: channel, isAdmin: false)
            }
            for outbound in config.outbound {
                let routes = RouteTable(outbound.routes) { [clusterManager] name in clusterManager.cluster(named: name)?.index }
                let context = ListenerContext(
                    name: outbound.name,
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
        state.withLockedValue { $0.ready = true }
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
        let futures = workers.map { worker in
            worker.context.eventLoop.submit {
                worker.context.connections.closeAll()
                for cluster in worker.context.clusters { cluster.closeAllIdle() }
                worker.context.accessLog?.stop()
            }
        }
        let admin = state.withLockedValue { $0.adminChannel }
        EventLoopFuture.andAllComplete(futures, on: group.any()).whenComplete { [self] _ in
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

    /// Reopens the access log file (SIGHUP).
    public func reopenLogs() {
        accessLogWriter?.reopen()
    }
}

extension SidecarRuntime {
    /// The effective configuration as JSON (`GET /v1/config`).
    func configJSON() -> [UInt8] {
        config.jsonData()
    }

    /// Prometheus text (`GET /metrics`).
    func metricsText() -> String {
        ""
    }
}

import Logging
import NIOCore

/// The state one event loop owns: its view of every cluster, its request-id source, its random
/// source, its access-log buffer and its tracer. Created on start, touched only on its loop, so the data path
/// reaches everything it needs through one reference taken when a connection is accepted.
final class WorkerContext {
    let eventLoop: EventLoop
    /// Indexed by `Cluster.index`.
    private(set) var clusters: [LoopCluster] = []
    var requestIDs = RequestIDGenerator()
    var random = SystemRandomNumberGenerator()
    let drain: DrainState
    let accessLog: AccessLogBuffer?
    /// Trace ids, sampling and this loop's span buffer; nil without a `tracing` section (headers
    /// then pass through untouched and nothing is recorded).
    let tracer: LoopTracer?
    let connections: ConnectionTracker
    let metrics = LoopMetrics()
    /// Request, per-try and backoff timers of this loop's exchanges.
    let timers: TimerWheel
    let logger: Logger
    /// This workload's current identity (nil when no TLS is configured); replaced on rotation by
    /// a task run on this loop, so connections read it without a lock.
    var identity: IdentitySnapshot?

    init(eventLoop: EventLoop, drain: DrainState, accessLog: AccessLogBuffer?, tracer: LoopTracer? = nil, logger: Logger) {
        self.eventLoop = eventLoop
        self.timers = TimerWheel(eventLoop: eventLoop)
        self.logger = logger
        let metrics = self.metrics
        self.connections = ConnectionTracker { direction, delta in metrics.connectionsChanged(direction, by: delta) }
        self.drain = drain
        self.accessLog = accessLog
        self.tracer = tracer
    }

    func setClusters(_ clusters: [LoopCluster]) {
        self.clusters = clusters
    }
}

/// Lets the `WorkerContext`s cross into the event loops that own them; each is only used on its own loop.
struct WorkerContextBox: @unchecked Sendable {
    let context: WorkerContext
}

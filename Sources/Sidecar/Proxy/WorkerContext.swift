import NIOCore

/// The state one event loop owns: its view of every cluster, its request-id source, its random
/// source and its access-log buffer. Created on start, touched only on its loop, so the data path
/// reaches everything it needs through one reference taken when a connection is accepted.
final class WorkerContext {
    let eventLoop: EventLoop
    /// Indexed by `Cluster.index`.
    private(set) var clusters: [LoopCluster] = []
    var requestIDs = RequestIDGenerator()
    var random = SystemRandomNumberGenerator()
    let drain: DrainState
    let accessLog: AccessLogBuffer?
    let connections = ConnectionTracker()

    init(eventLoop: EventLoop, drain: DrainState, accessLog: AccessLogBuffer?) {
        self.eventLoop = eventLoop
        self.drain = drain
        self.accessLog = accessLog
    }

    func setClusters(_ clusters: [LoopCluster]) {
        self.clusters = clusters
    }
}

/// Lets the `WorkerContext`s cross into the event loops that own them; each is only used on its own loop.
struct WorkerContextBox: @unchecked Sendable {
    let context: WorkerContext
}

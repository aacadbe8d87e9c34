import NIOCore

/// One event loop's view of an `Endpoint`: its idle pooled connections and balancer state.
///
/// Lives on one event loop and is only touched there, so it needs no synchronisation.
final class LoopEndpoint {
    let endpoint: Endpoint
    /// Idle keep-alive connections, most recently used last (taken LIFO: warm connections first).
    var idleConnections: [HTTP1UpstreamConnection] = []
    /// Connections to this endpoint opened by this loop and not yet closed.
    var openConnections = 0
    /// Smooth weighted round robin's running weight.
    var currentWeight = 0
    /// Peak EWMA's latency estimate on this loop (nil until the first response), and when it was
    /// last updated (monotonic nanoseconds).
    var latencyEstimateNanoseconds: Double?
    var latencyObservedAtNanoseconds: UInt64 = 0
    /// False once a push removed the endpoint: it drains (in-flight requests finish) and then goes.
    var isMember = true

    init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    /// Takes a usable idle connection, closing any that outlived `idleTimeout` or died.
    func takeIdleConnection(now: NIODeadline, idleTimeout: TimeAmount) -> HTTP1UpstreamConnection? {
        while let connection = idleConnections.popLast() {
            if connection.isReusable, idleTimeout == .zero || now - connection.idleSince < idleTimeout {
                return connection
            }
            connection.close()
        }
        return nil
    }

    /// Closes idle connections older than `idleTimeout` (all of them when `idleTimeout` is nil).
    func closeIdleConnections(olderThan idleTimeout: TimeAmount?, now: NIODeadline) {
        guard !idleConnections.isEmpty else { return }
        var kept: [HTTP1UpstreamConnection] = []
        for connection in idleConnections {
            if let idleTimeout, idleTimeout == .zero || now - connection.idleSince < idleTimeout, connection.isReusable {
                kept.append(connection)
            } else {
                connection.close()
            }
        }
        idleConnections = kept
    }
}

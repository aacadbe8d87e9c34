import NIOCore
import NIOHTTP1

/// One event loop's view of a cluster: the endpoint list it balances over, the balancer's state
/// and the pooled connections. Only touched on its event loop, so the data path takes no lock.
final class LoopCluster {
    let cluster: Cluster
    let eventLoop: EventLoop
    private(set) var endpoints: [LoopEndpoint] = []
    /// Endpoints removed by a push that still have requests or connections on this loop.
    private var draining: [LoopEndpoint] = []
    private(set) var version = 0
    /// The shared endpoints of the current list (outlier detection's percentage cap counts them).
    private(set) var memberEndpoints: [Endpoint] = []
    private var balancer: AnyLoadBalancer
    /// The request header whose value is the hash key, when the policy hashes (ring hash, Maglev).
    let hashKeyHeader: String?
    let retryPolicy: RetryPolicy
    /// The delay before each retry (per the cluster's `retries.backoff`).
    let backoff: ExponentialBackoff
    /// The most request body bytes kept for a retry (`retries.maxBufferedBody`).
    let maxBufferedBody: Int
    /// `retryPolicy`'s `maxRetries` and `lowestRetriableStatus`, read per request: reading them
    /// through the policy would copy it (three sets retained and released).
    let maxRetries: Int
    let lowestRetriableStatus: Int
    /// `retryPolicy.retriesOnGRPCStatus`, read per gRPC response.
    let retriesOnGRPCStatus: Bool
    /// This loop's share of the cluster's retry budget.
    var retryBudget: RetryBudget
    private let connector: UpstreamConnector
    private let idleTimeout: TimeAmount
    private var sweepTask: RepeatedTask?
    /// How often idle pooled connections are looked at (a quarter of the idle timeout, at least 250 ms).
    private var sweepPeriod: TimeAmount = .zero
    /// What the sweep task reaches this cluster through; held only here.
    private var sweepTarget: RepeatedTaskTarget<LoopCluster>?

    init(cluster: Cluster, eventLoop: EventLoop, loopCount: Int, secureChannel: UpstreamConnector.SecureChannel?) {
        self.cluster = cluster
        self.eventLoop = eventLoop
        let retries = cluster.config.retries
        self.retryPolicy = cluster.isLocalApp ? .none : RetryPolicy(retries)
        self.backoff = ExponentialBackoff(retries.backoff)
        self.maxBufferedBody = retries.maxBufferedBody
        self.maxRetries = retryPolicy.maxRetries
        self.lowestRetriableStatus = retryPolicy.lowestRetriableStatus
        self.retriesOnGRPCStatus = retryPolicy.retriesOnGRPCStatus
        self.retryBudget = RetryBudget(
            ratio: retries.budget.ratio,
            minRetriesPerSecond: Double(retries.budget.minRetriesPerSecond) / Double(max(1, loopCount))
        )
        self.idleTimeout = cluster.config.timeouts.idle
        self.balancer = AnyLoadBalancer(cluster.config.loadBalancing)
        self.hashKeyHeader = balancer.usesHashKey ? cluster.config.loadBalancing.hashOnHeader : nil
        self.connector = UpstreamConnector(
            eventLoop: eventLoop,
            connectTimeout: cluster.config.timeouts.connect,
            secureChannel: secureChannel
        )
        // Built before the loop serves any connection: the first list needs no hop.
        apply(cluster.endpointSet)
        if idleTimeout > .zero {
            let period = max(TimeAmount.milliseconds(250), TimeAmount.nanoseconds(idleTimeout.nanoseconds / 4))
            sweepPeriod = period
            // Through a weakly held stand-in, not this cluster (see `RepeatedTaskTarget`).
            let target = RepeatedTaskTarget(self)
            sweepTarget = target
            sweepTask = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [weak target] _ in
                target?.owner.sweepIdle()
            }
        }
    }

    /// Makes `set` this loop's endpoint list. Endpoints that stay keep their `LoopEndpoint` (and so
    /// their pooled connections and balancer state); removed ones drain.
    func install(_ set: EndpointSet) {
        eventLoop.assertInEventLoop()
        apply(set)
    }

    private func apply(_ set: EndpointSet) {
        guard set.version >= version else { return }
        var byID: [Int: LoopEndpoint] = [:]
        for loopEndpoint in endpoints { byID[loopEndpoint.endpoint.id] = loopEndpoint }
        var next: [LoopEndpoint] = []
        next.reserveCapacity(set.endpoints.count)
        for endpoint in set.endpoints {
            if let kept = byID.removeValue(forKey: endpoint.id) {
                next.append(kept)
            } else {
                next.append(LoopEndpoint(endpoint: endpoint))
            }
        }
        for removed in byID.values {
            removed.isMember = false
            removed.closeIdleConnections(olderThan: nil, now: .now())
            if removed.openConnections > 0 { draining.append(removed) }
        }
        pruneDrained()
        endpoints = next
        memberEndpoints = set.endpoints
        version = set.version
    }

    /// Whether picks need the request's hash key (`hashKey(in:)`).
    var needsHashKey: Bool { hashKeyHeader != nil }

    /// The request's hash key: the value of the `hashOn` header when the policy hashes, else nil
    /// without looking at the headers.
    func hashKey(in headers: HTTPFieldBlock) -> Substring? {
        guard let hashKeyHeader, let value = headers.first(name: hashKeyHeader) else { return nil }
        return Substring(value)
    }

    /// Picks the endpoint for an attempt, avoiding `avoid` when another is available. `hashKey`
    /// is used by ring hash and Maglev (a random pick without one).
    func pickEndpoint(avoid: Endpoint?, hashKey: Substring? = nil) -> LoopEndpoint? {
        balancer.pick(endpoints, avoid: avoid, hashKey: hashKey)
    }

    /// Reports a response's latency (attempt start to response head) to a latency-aware balancer.
    /// Whether the balancer uses response latencies (peak EWMA): only then does the exchange
    /// measure them.
    var observesLatency: Bool { cluster.config.loadBalancing.policy == .peakEwma }

    func observeLatency(of loopEndpoint: LoopEndpoint, latencyNanoseconds: UInt64, nowNanoseconds: UInt64) {
        balancer.observe(endpoint: loopEndpoint, latencyNanoseconds: latencyNanoseconds, nowNanoseconds: nowNanoseconds)
    }

    /// A new connection to `loopEndpoint` (the caller holds a `connections` slot of the circuit
    /// breaker, given back when the connection closes).
    func connection(to loopEndpoint: LoopEndpoint) -> EventLoopFuture<HTTP1UpstreamConnection> {
        loopEndpoint.openConnections += 1
        return connector.connect(loopEndpoint, onClose: http1ConnectionClosed(of: loopEndpoint))
    }

    /// What an HTTP/1.1 connection to `loopEndpoint` does when it closes: gives back its
    /// `connections` slot and leaves the pool. (A removed endpoint whose last connection closed
    /// leaves `draining` at the next sweep or push.)
    private func http1ConnectionClosed(of loopEndpoint: LoopEndpoint) -> (HTTP1UpstreamConnection) -> Void {
        let breaker = cluster.circuitBreaker
        return { [unowned loopEndpoint] closed in
            breaker.release(.connections)
            loopEndpoint.openConnections -= 1
            if let index = loopEndpoint.idleConnections.firstIndex(where: { $0 === closed }) {
                loopEndpoint.idleConnections.remove(at: index)
            }
        }
    }

    /// A stream on an HTTP/2 connection to `loopEndpoint` that has a free slot (up or still
    /// connecting), without opening a connection.
    func http2Stream(to loopEndpoint: LoopEndpoint, delegate: UpstreamStreamDelegate) -> HTTP2UpstreamStream? {
        loopEndpoint.http2ConnectionWithCapacity()?.makeStream(delegate: delegate)
    }

    /// A new HTTP/2 connection to `loopEndpoint`, listed at once so that other exchanges share it
    /// while it connects (the caller holds a `connections` slot of the circuit breaker, given back
    /// when the connection closes).
    func openHTTP2Connection(to loopEndpoint: LoopEndpoint) -> HTTP2UpstreamConnection {
        loopEndpoint.openConnections += 1
        let breaker = cluster.circuitBreaker
        let negotiates = cluster.versionChoice == .negotiated
        let connection = HTTP2UpstreamConnection(
            eventLoop: eventLoop, owner: loopEndpoint, secure: connector.secureChannel != nil, negotiatesProtocol: negotiates
        ) { [unowned loopEndpoint] closed in
            breaker.release(.connections)
            loopEndpoint.openConnections -= 1
            loopEndpoint.http2Connections.removeAll { $0 === closed }
        }
        loopEndpoint.http2Connections.append(connection)
        connector.connectHTTP2(loopEndpoint, handler: connection).whenComplete { [unowned loopEndpoint] result in
            switch result {
            case .success(let alpn):
                if connection.isSecure {
                    // Whether the endpoint is another sidecar (see `MeshALPN`): until this is
                    // known, requests carry the headers meant for sidecars only.
                    let isSidecar = alpn == MeshALPN.sidecarHTTP2
                    loopEndpoint.isSidecar = isSidecar
                    loopEndpoint.endpoint.noteSidecar(isSidecar)
                }
                if negotiates {
                    // `protocol: auto`: the server's ALPN pick says whether the endpoint speaks
                    // HTTP/2. If it picked HTTP/1.1, nothing was sent here: the channel becomes an
                    // HTTP/1.1 connection, and the exchanges waiting for it go again over
                    // HTTP/1.1 as the same attempt (`UpstreamVersionChoice.fallsBackToHTTP1`).
                    loopEndpoint.endpoint.negotiatedHTTPVersion.store(MeshALPN.isHTTP2(alpn) ? 2 : 1, ordering: .relaxed)
                    guard MeshALPN.isHTTP2(alpn) else {
                        loopEndpoint.notePickedHTTP1(now: .now())
                        self.handOverToHTTP1(connection, of: loopEndpoint, alpn: alpn)
                        return
                    }
                    loopEndpoint.speaksHTTP2 = true
                }
                connection.activate()
            case .failure(let error):
                connection.connectFailed(String(describing: error))
            }
        }
        return connection
    }

    /// An `auto` connection whose server picked HTTP/1.1 (or nothing) by ALPN: its TLS channel,
    /// on which nothing was sent, becomes a pooled HTTP/1.1 connection (keeping the connection's
    /// circuit-breaker slot), and the streams that waited for it fail with `http2NotSpoken`, so
    /// that their exchanges go over HTTP/1.1 — the first of them on this very connection. (If the
    /// channel cannot be handed over, it closes and the exchanges open HTTP/1.1 connections.)
    private func handOverToHTTP1(_ connection: HTTP2UpstreamConnection, of loopEndpoint: LoopEndpoint, alpn: String?) {
        let reason = "the endpoint chose \(alpn ?? "no protocol") by ALPN, not h2"
        let successor = HTTP1UpstreamConnection(owner: loopEndpoint, onClose: http1ConnectionClosed(of: loopEndpoint))
        let handedOver = connection.handOver(to: successor, reason: reason) {
            loopEndpoint.http2Connections.removeAll { $0 === connection }
            successor.releaseUnused()
        }
        if !handedOver { connection.refuse(reason) }
    }

    /// A pooled connection to `loopEndpoint` that has been idle for less than the idle timeout at
    /// `now`, without connecting.
    func idleConnection(to loopEndpoint: LoopEndpoint, now: NIODeadline) -> HTTP1UpstreamConnection? {
        loopEndpoint.takeIdleConnection(now: now, idleTimeout: idleTimeout)
    }

    private func sweepIdle() {
        pruneDrained()
        let now = NIODeadline.now()
        for loopEndpoint in endpoints {
            loopEndpoint.closeIdleConnections(olderThan: idleTimeout, now: now, releaseBuffersAfter: sweepPeriod)
        }
        // Removed endpoints: connections that were busy at removal close once they are idle.
        for loopEndpoint in draining {
            loopEndpoint.closeIdleConnections(olderThan: nil, now: now)
        }
    }

    /// Forgets removed endpoints whose last connection has closed.
    private func pruneDrained() {
        draining.removeAll { $0.openConnections == 0 }
    }

    /// Closes every idle pooled connection (drain and shutdown).
    func closeAllIdle() {
        sweepTask?.cancel()
        for loopEndpoint in endpoints + draining {
            loopEndpoint.closeIdleConnections(olderThan: nil, now: .now())
        }
    }
}

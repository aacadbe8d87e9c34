import NIOCore

/// All clusters of the process (the configured ones plus one per inbound listener for its local
/// application), and the one way to change a cluster's endpoints: build the new set, then install
/// it on every event loop, answering once all of them run with it.
final class ClusterManager: Sendable {
    let clusters: [Cluster]
    private let byName: [String: Cluster]

    init(config: SidecarConfig) {
        var clusters: [Cluster] = []
        for cluster in config.clusters {
            clusters.append(Cluster(index: clusters.count, config: cluster))
        }
        for listener in config.inbound {
            clusters.append(
                Cluster(
                    index: clusters.count,
                    config: ClusterManager.localAppCluster(for: listener),
                    isLocalApp: true,
                    followsCallerProtocol: listener.protocol == .auto
                )
            )
        }
        self.clusters = clusters
        var byName: [String: Cluster] = [:]
        for cluster in clusters where !cluster.isLocalApp { byName[cluster.name] = cluster }
        self.byName = byName
    }

    /// The cluster an inbound listener forwards to: its `forwardTo`, plaintext, no retries.
    static func localAppCluster(for listener: InboundListenerConfig) -> ClusterConfig {
        var cluster = ClusterConfig(name: "inbound|\(listener.name)")
        cluster.endpoints = [EndpointConfig(address: listener.forwardTo)]
        cluster.tls.mode = .disabled
        cluster.protocol = listener.protocol == .http2 ? .http2 : .http1
        cluster.retries.maxRetries = 0
        cluster.retries.retryOn = []
        cluster.timeouts.request = listener.timeouts.request
        cluster.timeouts.idle = .seconds(60)
        cluster.circuitBreaker.maxConnections = Int.max / 2
        cluster.circuitBreaker.maxRequests = Int.max / 2
        cluster.circuitBreaker.maxPendingRequests = Int.max / 2
        return cluster
    }

    /// The clusters an operator sees and may push to.
    var publicClusters: [Cluster] { clusters.filter { !$0.isLocalApp } }

    func cluster(named name: String) -> Cluster? { byName[name] }

    func localAppClusterIndex(for listener: InboundListenerConfig) -> Int? {
        clusters.first { $0.isLocalApp && $0.name == "inbound|\(listener.name)" }?.index
    }

    enum PushError: Error, Equatable {
        case unknownCluster
        case staleVersion(current: Int)
    }

    /// Replaces `name`'s endpoints with `endpoints` at `version`, then installs the new set on every
    /// worker loop. The future completes once every loop balances over the new list.
    func replaceEndpoints(
        cluster name: String,
        version: Int,
        endpoints: [EndpointConfig],
        workers: [WorkerContextBox],
        on eventLoop: EventLoop
    ) -> EventLoopFuture<EndpointSet> {
        guard let cluster = byName[name] else { return eventLoop.makeFailedFuture(PushError.unknownCluster) }
        guard let (old, new) = cluster.makeNextSet(version: version, endpoints: endpoints) else {
            return eventLoop.makeFailedFuture(PushError.staleVersion(current: cluster.endpointSet.version))
        }
        let stayed = Set(new.endpoints.map { ObjectIdentifier($0) })
        for endpoint in old.endpoints where !stayed.contains(ObjectIdentifier(endpoint)) {
            endpoint.removed.store(true, ordering: .relaxed)
        }
        let installs = workers.map { box -> EventLoopFuture<Void> in
            let worker = box
            return worker.context.eventLoop.submit {
                worker.context.clusters[cluster.index].install(new)
            }
        }
        return EventLoopFuture.andAllSucceed(installs, on: eventLoop).map { new }
    }
}

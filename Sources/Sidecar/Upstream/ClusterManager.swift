import NIOConcurrencyHelpers
import NIOCore

/// All clusters of the process (the configured ones plus one per inbound listener for its local
/// application), and the one way to change a cluster's endpoints: build the new set, then install
/// it on every event loop, answering once all of them run with it.
final class ClusterManager: EndpointRegistry {
    let clusters: [Cluster]
    private let byName: [String: Cluster]
    /// Every event loop's worker, set once the workers exist (before any update can arrive).
    private let workerList = NIOLockedValueBox<[WorkerContextBox]>([])

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

    func setWorkers(_ workers: [WorkerContextBox]) {
        workerList.withLockedValue { $0 = workers }
    }

    /// Replaces the cluster's endpoints with the update's list, then installs the new set on every
    /// worker loop. The future completes once every loop balances over the new list.
    func apply(_ update: EndpointUpdate, on eventLoop: EventLoop) -> EventLoopFuture<EndpointSet> {
        guard let cluster = byName[update.cluster] else { return eventLoop.makeFailedFuture(EndpointUpdateError.unknownCluster) }
        guard let (old, new) = cluster.makeNextSet(version: update.version, endpoints: update.endpoints) else {
            return eventLoop.makeFailedFuture(EndpointUpdateError.staleVersion(current: cluster.endpointSet.version))
        }
        let workers = workerList.withLockedValue { $0 }
        let stayed = Set(new.endpoints.map { ObjectIdentifier($0) })
        let gone = old.endpoints.filter { !stayed.contains(ObjectIdentifier($0)) }
        let installs = workers.map { worker -> EventLoopFuture<Void> in
            worker.context.eventLoop.submit {
                worker.context.clusters[cluster.index].install(new)
            }
        }
        // Only once every loop balances over the new list are the removed endpoints marked as
        // draining: until then a loop still on the old list may pick them (and must find one).
        return EventLoopFuture.andAllSucceed(installs, on: eventLoop).map {
            for endpoint in gone { endpoint.removed.store(true, ordering: .relaxed) }
            return new
        }
    }
}

import Synchronization
import NIOConcurrencyHelpers
import NIOCore

/// A named group of upstream endpoints with its policies, shared by every event loop.
///
/// The data path never reads `Cluster` state under a lock: each event loop holds its own
/// `LoopCluster` view, and a new endpoint list is handed to every loop by `execute` (see
/// `ClusterManager.replaceEndpoints`). The lock here only orders control-plane writers.
public final class Cluster: Sendable {
    public let name: String
    let index: Int
    public let config: ClusterConfig
    /// An inbound listener's local application (not shown by the admin API, not pushable).
    let isLocalApp: Bool
    /// How an attempt picks its HTTP version (read per attempt; see `UpstreamVersionChoice`).
    /// `followsCallerProtocol` (an inbound listener with `protocol: auto`) makes it `.callers`:
    /// the local app is called in the caller's HTTP version rather than by `config.protocol`.
    let versionChoice: UpstreamVersionChoice

    private let state: NIOLockedValueBox<EndpointSet>
    let circuitBreaker: CircuitBreaker
    let outlierDetector: OutlierDetector

    init(index: Int, config: ClusterConfig, isLocalApp: Bool = false, followsCallerProtocol: Bool = false) {
        self.index = index
        self.isLocalApp = isLocalApp
        self.versionChoice = UpstreamVersionChoice(config: config, followsCallerProtocol: followsCallerProtocol)
        self.name = config.name
        self.config = config
        self.circuitBreaker = CircuitBreaker(config.circuitBreaker)
        self.outlierDetector = OutlierDetector(config: config.outlierDetection)
        let endpoints = config.endpoints.map { Endpoint(address: $0.address, weight: $0.weight) }
        self.state = NIOLockedValueBox(EndpointSet(version: 0, endpoints: endpoints))
    }

    /// The current endpoint list (control plane and admin only).
    public var endpointSet: EndpointSet {
        state.withLockedValue { $0 }
    }

    /// Builds the next endpoint set, keeping the `Endpoint` objects of addresses that stay.
    /// Returns nil when `version` is not greater than the current one.
    func makeNextSet(version: Int, endpoints: [EndpointConfig]) -> (old: EndpointSet, new: EndpointSet)? {
        state.withLockedValue { current in
            guard version > current.version else { return nil }
            var existing: [SocketAddressSpec: Endpoint] = [:]
            for endpoint in current.endpoints { existing[endpoint.address] = endpoint }
            let next = endpoints.map { config -> Endpoint in
                if let kept = existing[config.address] {
                    kept.weightValue.store(max(1, config.weight), ordering: .relaxed)
                    return kept
                }
                return Endpoint(address: config.address, weight: config.weight)
            }
            let old = current
            current = EndpointSet(version: version, endpoints: next)
            return (old, current)
        }
    }
}

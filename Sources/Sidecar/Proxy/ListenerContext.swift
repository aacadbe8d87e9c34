import NIOCore

/// Everything a downstream connection needs to know about the listener that accepted it.
/// Built once at start, shared read-only by every event loop.
final class ListenerContext: Sendable {
    enum Target: Sendable {
        /// Inbound: every request goes to the local application's cluster.
        case localApp(clusterIndex: Int)
        /// Outbound: the route table chooses the cluster.
        case routes(RouteTable)
    }

    let name: String
    /// Position in the runtime's listener table (metric labels).
    let index: Int
    let direction: TrafficDirection
    let target: Target
    /// Inbound TLS mode; outbound listeners are plaintext (`disabled`).
    let tls: InboundTLSMode
    let timeouts: ListenerTimeouts
    let limits: HTTPLimitsConfig
    /// SPIFFE IDs allowed to call (inbound, mutual TLS); empty allows any verified identity.
    let allow: Set<String>

    init(
        name: String,
        index: Int,
        direction: TrafficDirection,
        target: Target,
        tls: InboundTLSMode = .disabled,
        timeouts: ListenerTimeouts,
        limits: HTTPLimitsConfig,
        allow: [String] = []
    ) {
        self.tls = tls
        self.index = index
        self.name = name
        self.direction = direction
        self.target = target
        self.timeouts = timeouts
        self.limits = limits
        self.allow = Set(allow)
    }
}

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
    let direction: TrafficDirection
    let target: Target
    let timeouts: ListenerTimeouts
    let limits: HTTPLimitsConfig
    /// SPIFFE IDs allowed to call (inbound, mutual TLS); empty allows any verified identity.
    let allow: Set<String>
    /// This sidecar's own SPIFFE ID (the `By=` of `x-forwarded-client-cert`), when it has one.
    let ownIdentity: String?

    init(
        name: String,
        direction: TrafficDirection,
        target: Target,
        timeouts: ListenerTimeouts,
        limits: HTTPLimitsConfig,
        allow: [String] = [],
        ownIdentity: String? = nil
    ) {
        self.name = name
        self.direction = direction
        self.target = target
        self.timeouts = timeouts
        self.limits = limits
        self.allow = Set(allow)
        self.ownIdentity = ownIdentity
    }
}

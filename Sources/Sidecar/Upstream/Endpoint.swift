import NIOCore
import Synchronization

/// One upstream address of a cluster, shared by every event loop.
///
/// The address is immutable; the weight (changed by a push) and the statistics that balancers, outlier detection
/// and the admin API read are atomics, so the data path updates them without a lock. They are
/// `Atomic`s stored in the object itself: a swift-atomics `ManagedAtomic` is an object of its own,
/// and each use of one cost a retain, a release and an indirect call (about 20 a request). An endpoint
/// that stays across an endpoint push is the same object, so it keeps its statistics and state.
public final class Endpoint: Sendable {
    public let address: SocketAddressSpec
    /// `address` as text, formatted once (the access log writes it for every attempt).
    let addressText: String
    /// Relative share of traffic, 1 or more; a push may change it.
    let weightValue: Atomic<Int>
    public var weight: Int { weightValue.load(ordering: .relaxed) }
    /// Resolved once when the endpoint is created (IP literals) or at first connect.
    let socketAddress: SocketAddress?
    /// Process-unique id, stable for the endpoint's life.
    let id: Int

    /// Requests in flight to this endpoint across all event loops.
    let activeRequests = Atomic<Int>(0)
    /// Total attempts sent to this endpoint (for tests and the admin API).
    let totalRequests = Atomic<Int>(0)
    /// Set while the endpoint is no longer in its cluster's list: it takes no new requests.
    let removed = Atomic<Bool>(false)

    // Outlier detection (see `OutlierDetector`).
    let consecutive5xx = Atomic<Int>(0)
    let consecutiveGatewayErrors = Atomic<Int>(0)
    /// How many times this endpoint was ejected (the ejection time multiplier).
    let ejectionCount = Atomic<Int>(0)
    /// Monotonic-clock nanoseconds until which the endpoint is ejected; 0 when it is not.
    let ejectedUntil = Atomic<UInt64>(0)
    /// Peak-EWMA latency estimate in microseconds (0 until measured), written by the balancer.
    let latencyMicroseconds = Atomic<Int>(0)
    /// Cleared by active health checking after `unhealthyThreshold` failed checks.
    let healthy = Atomic<Bool>(true)
    /// `protocol: auto` clusters: what the endpoint last picked by ALPN (the admin API shows it):
    /// 0 not known yet, 1 HTTP/1.1, 2 HTTP/2.
    let negotiatedHTTPVersion = Atomic<Int>(0)

    /// `negotiatedHTTPVersion` as the config spells protocols (`http1`, `http2`); nil until known.
    var negotiatedProtocolName: String? {
        switch negotiatedHTTPVersion.load(ordering: .relaxed) {
        case 1: return UpstreamProtocol.http1.rawValue
        case 2: return UpstreamProtocol.http2.rawValue
        default: return nil
        }
    }

    /// Whether the endpoint is another sidecar, as the last HTTP/2 connection over TLS to it
    /// said by ALPN (the admin API shows it): 0 not known yet, 1 no, 2 yes.
    private let sidecarState = Atomic<Int>(0)

    func noteSidecar(_ isSidecar: Bool) {
        sidecarState.store(isSidecar ? 2 : 1, ordering: .relaxed)
    }

    /// Whether the endpoint is another sidecar; nil until an HTTP/2 connection over TLS asked.
    var isSidecar: Bool? {
        switch sidecarState.load(ordering: .relaxed) {
        case 1: return false
        case 2: return true
        default: return nil
        }
    }

    private static let nextID = Atomic<Int>(1)

    init(address: SocketAddressSpec, weight: Int) {
        self.address = address
        self.addressText = address.description
        self.weightValue = Atomic(max(1, weight))
        self.socketAddress = try? SocketAddress(ipAddress: address.host, port: address.port)
        self.id = Endpoint.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// The address to connect to, resolving a host name when the endpoint was not an IP literal.
    func resolvedAddress() throws -> SocketAddress {
        if let socketAddress { return socketAddress }
        return try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
    }

    /// Whether a balancer may pick this endpoint now.
    var isAvailable: Bool {
        !removed.load(ordering: .relaxed) && ejectedUntil.load(ordering: .relaxed) == 0 && healthy.load(ordering: .relaxed)
    }

    var latencyEstimateMilliseconds: Double {
        Double(latencyMicroseconds.load(ordering: .relaxed)) / 1000
    }

    var isEjected: Bool { ejectedUntil.load(ordering: .relaxed) != 0 }

    /// The state shown by the admin API: `draining`, `ejected`, `unhealthy` or `healthy`.
    var stateName: String {
        if removed.load(ordering: .relaxed) { return "draining" }
        if isEjected { return "ejected" }
        if !healthy.load(ordering: .relaxed) { return "unhealthy" }
        return "healthy"
    }
}

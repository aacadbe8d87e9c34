import NIOCore

/// The whole configuration file (CONTRACT section 2), as typed values with every default applied.
///
/// The field names are the YAML keys. Parsing and validation live in `ConfigParser`; this file
/// only declares the shape and the defaults, so that every layer reads one source of truth.
public struct SidecarConfig: Sendable, Equatable {
    public var service: String
    public var identity: IdentityConfig?
    public var admin: AdminConfig = AdminConfig()
    public var drainTimeout: TimeAmount = .seconds(10)
    public var inbound: [InboundListenerConfig] = []
    public var outbound: [OutboundListenerConfig] = []
    public var clusters: [ClusterConfig] = []
    public var tracing: TracingConfig?
    public var accessLog: AccessLogConfig = AccessLogConfig()
    /// Protocol limits on downstream connections (a sidecar extension to the contract's schema).
    public var limits: HTTPLimitsConfig = HTTPLimitsConfig()

    public init(service: String) {
        self.service = service
    }

    /// True when any inbound listener or cluster originates or terminates mutual TLS.
    public var needsIdentity: Bool {
        inbound.contains { $0.tls != .disabled } || clusters.contains { $0.tls.mode == .mutual }
            || admin.tls == .mutual
    }
}

/// `host:port` or `[v6]:port`, as written in the file.
public struct SocketAddressSpec: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public struct IdentityConfig: Sendable, Equatable {
    public var certificate: String
    public var privateKey: String
    public var trustBundle: String
    public var reloadInterval: TimeAmount = .seconds(5)

    public init(certificate: String, privateKey: String, trustBundle: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.trustBundle = trustBundle
    }
}

public enum AdminTLSMode: String, Sendable, Equatable, CaseIterable {
    case disabled
    case mutual
}

public struct AdminConfig: Sendable, Equatable {
    public var listen = SocketAddressSpec(host: "127.0.0.1", port: 15000)
    public var tls: AdminTLSMode = .disabled
    public var allow: [String] = []
    public init() {}
}

public enum InboundTLSMode: String, Sendable, Equatable, CaseIterable {
    case mutual
    case permissive
    case disabled
}

/// The protocol a listener speaks towards the local application.
public enum AppProtocol: String, Sendable, Equatable, CaseIterable {
    case auto
    case http1
    case http2
}

public struct ListenerTimeouts: Sendable, Equatable {
    public var request: TimeAmount = .seconds(30)
    public var idle: TimeAmount = .seconds(300)
    public init() {}
}

public struct InboundListenerConfig: Sendable, Equatable {
    public var name: String
    public var listen: SocketAddressSpec
    public var tls: InboundTLSMode = .mutual
    public var forwardTo: SocketAddressSpec
    public var `protocol`: AppProtocol = .auto
    public var allow: [String] = []
    public var timeouts = ListenerTimeouts()

    public init(name: String, listen: SocketAddressSpec, forwardTo: SocketAddressSpec) {
        self.name = name
        self.listen = listen
        self.forwardTo = forwardTo
    }
}

public struct RouteConfig: Sendable, Equatable {
    /// Exact host, `*.suffix`, or nil for a catch-all.
    public var host: String?
    public var pathPrefix: String?
    public var cluster: String

    public init(host: String? = nil, pathPrefix: String? = nil, cluster: String) {
        self.host = host
        self.pathPrefix = pathPrefix
        self.cluster = cluster
    }
}

public struct OutboundListenerConfig: Sendable, Equatable {
    public var name: String
    public var listen: SocketAddressSpec
    public var routes: [RouteConfig] = []
    public var timeouts = ListenerTimeouts()

    public init(name: String, listen: SocketAddressSpec, routes: [RouteConfig]) {
        self.name = name
        self.listen = listen
        self.routes = routes
    }
}

/// How a cluster speaks to its endpoints.
public enum UpstreamProtocol: String, Sendable, Equatable, CaseIterable {
    /// A pool of HTTP/1.1 connections.
    case http1
    /// HTTP/2, requests multiplexed on shared connections (h2 over mTLS, or h2c prior knowledge).
    case http2
    /// Negotiated per endpoint by TLS ALPN (`h2`, `http/1.1`): HTTP/2 where the endpoint picks
    /// it (another sidecar does), else HTTP/1.1. Needs `tls.mode: mutual`.
    case auto
}

public enum ClusterTLSMode: String, Sendable, Equatable, CaseIterable {
    case mutual
    case disabled
}

public struct ClusterTLSConfig: Sendable, Equatable {
    public var mode: ClusterTLSMode = .mutual
    public var serverName: String?
    public var expectIdentity: [String] = []
    public init() {}
}

public struct EndpointConfig: Sendable, Hashable {
    public var address: SocketAddressSpec
    public var weight: Int = 1

    public init(address: SocketAddressSpec, weight: Int = 1) {
        self.address = address
        self.weight = weight
    }
}

public enum LoadBalancingPolicy: String, Sendable, Equatable, CaseIterable {
    case roundRobin = "round_robin"
    case leastRequest = "least_request"
    case peakEwma = "peak_ewma"
    case ringHash = "ring_hash"
    case maglev
    case random
}

public struct LoadBalancingConfig: Sendable, Equatable {
    public var policy: LoadBalancingPolicy = .roundRobin
    /// Header whose value is hashed by `ring_hash` and `maglev`.
    public var hashOnHeader: String?
    public init() {}
}

public struct ClusterTimeouts: Sendable, Equatable {
    public var connect: TimeAmount = .seconds(1)
    public var request: TimeAmount = .seconds(15)
    /// Zero means off.
    public var perTry: TimeAmount = .zero
    public var idle: TimeAmount = .seconds(60)
    public init() {}
}

public enum RetryCondition: String, Sendable, Hashable, CaseIterable {
    case connectFailure = "connect-failure"
    case refusedStream = "refused-stream"
    case reset
    case gatewayError = "gateway-error"
    case serverError = "5xx"
    case retriableStatusCodes = "retriable-status-codes"
    case grpcUnavailable = "grpc-unavailable"
    case grpcCancelled = "grpc-cancelled"
    case grpcDeadlineExceeded = "grpc-deadline-exceeded"
    case grpcResourceExhausted = "grpc-resource-exhausted"
    case grpcInternal = "grpc-internal"
}

public struct BackoffConfig: Sendable, Equatable {
    public var base: TimeAmount = .milliseconds(25)
    public var max: TimeAmount = .milliseconds(250)
    public init() {}
}

public struct RetryBudgetConfig: Sendable, Equatable {
    public var ratio: Double = 0.2
    public var minRetriesPerSecond: Int = 10
    public init() {}
}

public struct RetryPolicyConfig: Sendable, Equatable {
    public var maxRetries: Int = 2
    public var retryOn: [RetryCondition] = [.connectFailure, .refusedStream, .reset, .gatewayError]
    public var retriableStatusCodes: [Int] = [503]
    public var backoff = BackoffConfig()
    public var budget = RetryBudgetConfig()
    public var maxBufferedBody: Int = 64 * 1024
    public init() {}
}

public struct CircuitBreakerConfig: Sendable, Equatable {
    public var maxConnections: Int = 1024
    public var maxPendingRequests: Int = 1024
    public var maxRequests: Int = 1024
    public var maxRetries: Int = 3
    public init() {}
}

public struct OutlierDetectionConfig: Sendable, Equatable {
    public var consecutive5xx: Int = 5
    public var consecutiveGatewayErrors: Int = 5
    public var interval: TimeAmount = .seconds(10)
    public var baseEjectionTime: TimeAmount = .seconds(30)
    public var maxEjectionPercent: Int = 10
    public init() {}
}

public struct HealthCheckConfig: Sendable, Equatable {
    public var path: String = "/healthz"
    public var interval: TimeAmount = .seconds(5)
    public var timeout: TimeAmount = .seconds(1)
    public var unhealthyThreshold: Int = 3
    public var healthyThreshold: Int = 2
    public init() {}
}

public struct ClusterConfig: Sendable, Equatable {
    public var name: String
    public var `protocol`: UpstreamProtocol = .http1
    public var tls = ClusterTLSConfig()
    public var endpoints: [EndpointConfig] = []
    public var loadBalancing = LoadBalancingConfig()
    public var timeouts = ClusterTimeouts()
    public var retries = RetryPolicyConfig()
    public var circuitBreaker = CircuitBreakerConfig()
    public var outlierDetection = OutlierDetectionConfig()
    /// Nil: passive health only.
    public var healthCheck: HealthCheckConfig?

    public init(name: String) {
        self.name = name
    }
}

public enum PropagationFormat: String, Sendable, Equatable, CaseIterable {
    case tracecontext
    case b3
}

public struct OTLPConfig: Sendable, Equatable {
    /// `http://host:port/path`.
    public var endpoint: String = "http://127.0.0.1:4318/v1/traces"
    public var batchSize: Int = 512
    public var flushInterval: TimeAmount = .seconds(1)
    public var maxQueue: Int = 8192
    public init() {}
}

public struct TracingConfig: Sendable, Equatable {
    public var sampleRate: Double = 1.0
    public var propagation: [PropagationFormat] = [.tracecontext, .b3]
    /// Nil: propagate headers only, export nothing.
    public var otlp: OTLPConfig?
    public init() {}
}

public enum AccessLogDestination: Sendable, Equatable {
    case stdout
    case off
    case file(String)
}

public enum AccessLogFormat: String, Sendable, Equatable, CaseIterable {
    case json
}

public struct AccessLogConfig: Sendable, Equatable {
    public var path: AccessLogDestination = .stdout
    public var format: AccessLogFormat = .json
    public init() {}
}

/// Limits applied to every downstream HTTP/1.1 connection (and HTTP/2 header lists).
/// YAML key `limits` (extension): `{ maxHeaderBytes: 64KiB, maxHeaderCount: 100, maxUriBytes: 8KiB }`.
public struct HTTPLimitsConfig: Sendable, Equatable {
    /// Request line plus all header fields.
    public var maxHeaderBytes: Int = 64 * 1024
    public var maxHeaderCount: Int = 100
    public var maxUriBytes: Int = 8 * 1024
    public init() {}
}

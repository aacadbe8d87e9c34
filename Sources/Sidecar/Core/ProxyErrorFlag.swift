import NIOHTTP1

/// Why the sidecar answered a request itself (CONTRACT section 4): the `x-sidecar-error` value,
/// the HTTP status, and the gRPC status used when the caller speaks gRPC (section 4a).
public enum ProxyErrorFlag: String, Sendable, CaseIterable {
    case noRoute = "no_route"
    case noHealthyUpstream = "no_healthy_upstream"
    case upstreamConnectFailure = "upstream_connect_failure"
    case upstreamOverflow = "upstream_overflow"
    case upstreamTimeout = "upstream_timeout"
    case upstreamPerTryTimeout = "upstream_per_try_timeout"
    case upstreamReset = "upstream_reset"
    case upstreamProtocolError = "upstream_protocol_error"
    case forbidden
    case downstreamProtocolError = "downstream_protocol_error"
    case draining

    public var status: HTTPResponseStatus {
        switch self {
        case .noRoute: return .notFound
        case .noHealthyUpstream, .upstreamConnectFailure, .upstreamOverflow, .draining:
            return .serviceUnavailable
        case .upstreamTimeout, .upstreamPerTryTimeout: return .gatewayTimeout
        case .upstreamReset, .upstreamProtocolError: return .badGateway
        case .forbidden: return .forbidden
        case .downstreamProtocolError: return .badRequest
        }
    }

    /// The gRPC status code for a sidecar-made gRPC response.
    public var grpcStatus: Int {
        switch self {
        case .noHealthyUpstream, .upstreamConnectFailure, .upstreamOverflow, .draining: return 14  // UNAVAILABLE
        case .upstreamTimeout, .upstreamPerTryTimeout: return 4  // DEADLINE_EXCEEDED
        case .forbidden: return 7  // PERMISSION_DENIED
        default: return 13  // INTERNAL
        }
    }

    /// The short text body of a sidecar-made response.
    public var message: String {
        switch self {
        case .noRoute: return "no route matches this request"
        case .noHealthyUpstream: return "no healthy upstream endpoint"
        case .upstreamConnectFailure: return "could not connect to an upstream endpoint"
        case .upstreamOverflow: return "upstream circuit breaker limit reached"
        case .upstreamTimeout: return "upstream request timeout"
        case .upstreamPerTryTimeout: return "upstream per-try timeout"
        case .upstreamReset: return "upstream closed the connection before a full response"
        case .upstreamProtocolError: return "upstream sent an unparsable response"
        case .forbidden: return "caller identity is not allowed"
        case .downstreamProtocolError: return "malformed request"
        case .draining: return "sidecar is draining"
        }
    }
}

/// How a cluster's attempts choose between HTTP/1.1 and HTTP/2, made once from its config.
enum UpstreamVersionChoice: Equatable {
    /// `protocol: http1`.
    case http1
    /// `protocol: http2`.
    case http2
    /// An inbound listener's local app with `protocol: auto`: HTTP/2 when the original caller
    /// spoke it, unless the app turned out not to.
    case callers
    /// `protocol: auto` over mutual TLS: HTTP/2, unless the endpoint picked HTTP/1.1 by ALPN
    /// (then HTTP/1.1 from there on; asked again after `LoopEndpoint.protocolRecheckInterval`).
    /// Its HTTP/2 connections offer both by ALPN, and requests to a new endpoint share the one
    /// that is connecting rather than each opening one.
    case negotiated

    init(config: ClusterConfig, followsCallerProtocol: Bool) {
        if followsCallerProtocol {
            self = .callers
            return
        }
        switch config.protocol {
        case .http1: self = .http1
        case .http2: self = .http2
        // (`auto` without TLS is refused by the config check: there would be nothing to
        // negotiate with. Were it to get here, it would be HTTP/1.1.)
        case .auto: self = config.tls.mode == .mutual ? .negotiated : .http1
        }
    }

    /// Whether an attempt to `endpoint` goes over HTTP/2. `callerIsHTTP2`: the request's
    /// original caller spoke HTTP/2 (see `OriginalProtocolHeader`).
    func usesHTTP2(to endpoint: LoopEndpoint, callerIsHTTP2: Bool) -> Bool {
        switch self {
        case .http1: return false
        case .http2: return true
        case .callers: return callerIsHTTP2 && endpoint.speaksHTTP2 != false
        case .negotiated: return endpoint.speaksHTTP2 != false
        }
    }

    /// Whether an HTTP/2 attempt that failed to connect because the endpoint does not speak
    /// HTTP/2 (`LoopEndpoint.speaksHTTP2` now false) goes again over HTTP/1.1, as the same attempt.
    var fallsBackToHTTP1: Bool {
        self == .callers || self == .negotiated
    }
}

import NIOCore

/// One event loop's view of an `Endpoint`: its idle pooled HTTP/1.1 connections, its shared
/// HTTP/2 connections and balancer state.
///
/// Lives on one event loop and is only touched there, so it needs no synchronisation.
final class LoopEndpoint {
    let endpoint: Endpoint
    /// Idle keep-alive connections, most recently used last (taken LIFO: warm connections first).
    var idleConnections: [HTTP1UpstreamConnection] = []
    /// Multiplexed HTTP/2 connections (connecting or up), for `protocol: http2` and `auto`
    /// clusters and the local app of `protocol: auto` listeners called over HTTP/2.
    var http2Connections: [HTTP2UpstreamConnection] = []
    /// Whether the endpoint speaks HTTP/2: nil until an HTTP/2 connection found out. For
    /// `protocol: auto` clusters the server's ALPN pick says; otherwise its first bytes do (a
    /// SETTINGS frame: true; anything else, e.g. an HTTP/1.1 answer to the preface: false). Lets
    /// an `auto` cluster's endpoint, or an `auto` listener's app, that only speaks HTTP/1.1 be
    /// called over HTTP/1.1.
    var speaksHTTP2: Bool?
    /// `protocol: auto` clusters: when the endpoint last picked HTTP/1.1 by ALPN. It is asked
    /// again once `protocolRecheckInterval` has passed (a sidecar may have been put in front of
    /// it since; the address may be another server's now).
    private(set) var pickedHTTP1At: NIODeadline?
    static let protocolRecheckInterval = TimeAmount.seconds(60)
    /// Whether the endpoint is another sidecar, as the ALPN pick of this loop's last HTTP/2
    /// connection over TLS to it said (`sidecar/h2`, see `MeshALPN`); nil until one has asked.
    /// `x-sidecar-orig-proto` goes only to an endpoint that is, or may be, a sidecar.
    var isSidecar: Bool?
    /// Connections to this endpoint opened by this loop and not yet closed.
    var openConnections = 0
    /// Smooth weighted round robin's running weight.
    var currentWeight = 0
    /// Peak EWMA's latency estimate on this loop (nil until the first response), and when it was
    /// last updated (monotonic nanoseconds).
    var latencyEstimateNanoseconds: Double?
    var latencyObservedAtNanoseconds: UInt64 = 0
    /// False once a push removed the endpoint: it drains (in-flight requests finish) and then goes.
    var isMember = true

    init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    /// The endpoint picked HTTP/1.1 (or no protocol) by ALPN at `now`.
    func notePickedHTTP1(now: NIODeadline) {
        speaksHTTP2 = false
        pickedHTTP1At = now
    }

    /// Forgets an HTTP/1.1 pick older than `protocolRecheckInterval`, so that the next attempt
    /// asks again.
    func recheckProtocolIfDue(now: NIODeadline) {
        guard speaksHTTP2 == false, let pickedHTTP1At, now - pickedHTTP1At >= Self.protocolRecheckInterval else { return }
        speaksHTTP2 = nil
        isSidecar = nil  // the next connection asks again
        self.pickedHTTP1At = nil
    }

    /// Takes a usable idle connection, closing any that outlived `idleTimeout` or died.
    func takeIdleConnection(now: NIODeadline, idleTimeout: TimeAmount) -> HTTP1UpstreamConnection? {
        while let connection = idleConnections.popLast() {
            if connection.isReusable, idleTimeout == .zero || now - connection.idleSince < idleTimeout {
                return connection
            }
            connection.close()
        }
        return nil
    }

    /// An HTTP/2 connection with a free stream slot, if any (the most recently opened first).
    func http2ConnectionWithCapacity() -> HTTP2UpstreamConnection? {
        var index = http2Connections.count - 1
        while index >= 0 {
            if http2Connections[index].hasCapacity { return http2Connections[index] }
            index -= 1
        }
        return nil
    }

    /// Closes idle connections older than `idleTimeout` (all of them when `idleTimeout` is nil).
    /// `releaseBuffersAfter`: pooled HTTP/1 connections idle at least this long let go of the
    /// buffers they keep for the next request (`ConnectionIdleEvent`).
    func closeIdleConnections(olderThan idleTimeout: TimeAmount?, now: NIODeadline, releaseBuffersAfter: TimeAmount? = nil) {
        if !http2Connections.isEmpty {
            for connection in http2Connections where connection.isIdle {
                if let idleTimeout, idleTimeout == .zero || now - connection.idleSince < idleTimeout { continue }
                connection.close()
            }
        }
        guard !idleConnections.isEmpty else { return }
        var kept: [HTTP1UpstreamConnection] = []
        for connection in idleConnections {
            if let idleTimeout, idleTimeout == .zero || now - connection.idleSince < idleTimeout, connection.isReusable {
                if let releaseBuffersAfter, now - connection.idleSince >= releaseBuffersAfter { connection.releaseIdleBuffers() }
                kept.append(connection)
            } else {
                connection.close()
            }
        }
        idleConnections = kept
    }
}

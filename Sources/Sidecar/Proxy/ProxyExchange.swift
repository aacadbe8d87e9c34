import NIOCore
import NIOHTTP1

/// One request's trip through the proxy, independent of the HTTP version on either side.
///
/// The downstream stream feeds it the request; it routes to a cluster, picks an endpoint, takes a
/// pooled connection (or opens one) on the same event loop, and streams the request up and the
/// response back with backpressure both ways. Failed attempts are retried per the cluster's
/// policy, replaying the request body from a buffer bounded by `maxBufferedBody`. Everything
/// happens on the event loop that accepted the request: no locks, no hops.
final class ProxyExchange: UpstreamStreamDelegate, WheelTimerTarget {
    private let worker: WorkerContext
    private let listener: ListenerContext
    private unowned(unsafe) let downstream: DownstreamStream

    // Request, as it will be sent upstream (hop-by-hop headers stripped, sidecar headers added).
    private var upstreamHead: ProxyRequestHead
    private let requestHasBody: Bool
    private let isGRPC: Bool
    /// The request's original caller spoke HTTP/2: it came over HTTP/2, and (on an inbound
    /// listener) no `x-sidecar-orig-proto` says that a sidecar upgraded it from HTTP/1.x. An
    /// `auto` local app is then called over HTTP/2 too.
    private let callerIsHTTP2: Bool
    /// When the caller sent `grpc-timeout`: the request's deadline, passed on as the time left.
    private var grpcDeadline: NIODeadline?
    /// Where the request's id comes from: the caller's `x-request-id` (then read from the head
    /// when its text is needed), or one made here and kept as its 128 bits (its digits are
    /// written straight into the upstream head). Most requests never need it as a `String`.
    private enum RequestIDSource {
        case caller
        case made(high: UInt64, low: UInt64)
    }
    private let requestIDSource: RequestIDSource

    /// The request's id as text (the access log, a local response, a hash key).
    var requestID: String { Self.text(of: requestIDSource, in: upstreamHead.fields) }

    private static func text(of source: RequestIDSource, in fields: HTTPFieldBlock) -> String {
        switch source {
        case .caller: return fields.first(name: "x-request-id") ?? ""
        case .made(let high, let low): return RequestIDGenerator.text(high: high, low: low)
        }
    }

    private var cluster: LoopCluster?
    /// The cluster's `retries.maxRetries` (0 until routed). The rest of the policy is read from
    /// the cluster when a retry is considered: a copy here would retain its sets per request.
    private var maxRetries = 0
    /// The policy's `lowestRetriableStatus`: a response below it (without a gRPC status) is
    /// passed on without looking at the policy.
    private var lowestRetriableStatus = Int.max
    private var maxBufferedBody = 0

    // Request body: chunks not yet sent on the current attempt, plus (while replayable) those
    // already sent, so a retry can send them again.
    private var bodyChunks: [ByteBuffer] = []
    private var bodyChunksSent = 0
    private var bodyBytesBuffered = 0
    private var bodyReplayable = true
    private var requestComplete = false
    private var requestEndSent = false
    private var requestTrailers: HTTPHeaders?
    private var downstreamPaused = false
    /// True while `flushBody` runs: a write can re-enter it through a writability change.
    private var flushingBody = false

    // Current attempt.
    private var attempt = 0
    private var upstream: UpstreamStream?
    private var upstreamEndpoint: LoopEndpoint?
    private var upstreamHeadSent = false
    /// When the current attempt started (its latency feeds latency-aware balancers).
    private var attemptStart: NIODeadline = .uptimeNanoseconds(0)
    private var attemptUsesHTTP2 = false
    /// `x-sidecar-attempt` is in `upstreamHead` (added by the first send, replaced after that).
    private var attemptHeaderAdded = false
    /// The request came with an `x-sidecar-attempt` (the previous hop's, or a caller's own).
    private var receivedAttemptField = false
    /// The request had no `x-request-id`: the generated one goes out with the first attempt.
    private var requestIDHeaderPending = false
    /// The `x-forwarded-client-cert` the first attempt adds (inbound, mutual TLS).
    private var forwardedClientCertPending: String?
    // Timers on the loop's wheel, made when first armed and re-armed after that.
    private var perTryTimer: WheelTimer?
    private var requestTimer: WheelTimer?
    private var backoffTimer: WheelTimer?
    /// The endpoint the attempt after the running backoff should avoid.
    private var backoffAvoid: Endpoint?
    /// Circuit-breaker slots this exchange holds (given back in `finish` / `endAttempt`).
    private var holdsRequestSlot = false
    private var holdsRetrySlot = false
    private var holdsPendingSlot = false
    /// Outlier detection applies to mesh clusters, not to an inbound listener's local app.
    private var detectsOutliers = false

    // Response.
    private var responseStarted = false
    /// The whole response was handed to the downstream.
    private var responseEndSent = false
    /// gRPC with retries on grpc-status: the response is held (head and body up to
    /// `maxBufferedBody`) until its grpc-status is known, so it can still be retried.
    private var heldHead: ProxyResponseHead?
    private var heldBody: [ByteBuffer] = []
    private var heldBytes = 0
    private var finished = false

    private let startTime: NIODeadline
    /// The status the caller got (0 until a response head went down).
    private var responseStatus = 0
    /// What the access log and the trace say about this request, gathered as it goes: nil unless
    /// one of them is configured (then the request builds, copies and frees none of its strings).
    private var record: AccessLogRecord?

    // Tracing: nil unless `tracing` is configured (then every hook below is one nil check).
    private var trace: ExchangeTrace?

    init(
        head: consuming ProxyRequestHead,
        requestHasBody: Bool,
        downstream: DownstreamStream,
        worker: WorkerContext,
        listener: ListenerContext,
        peer: DownstreamPeer?
    ) {
        self.worker = worker
        self.listener = listener
        self.downstream = downstream
        self.startTime = .now()
        self.requestHasBody = requestHasBody
        self.requestComplete = !requestHasBody

        HopByHopHeaders.strip(&head.fields)
        // One pass over the received bytes finds the headers the sidecar replaces or reads; most
        // requests carry none of them, and each `remove(name:)` would be a scan of its own.
        var hasExpect = false
        var hasAttempt = false
        var hasClientCert = false
        var sawRequestID = false
        var requestIDIsEmpty = false
        var sawContentType = false
        var isGRPC = false
        var originalProtocolIndex: Int?
        var originalProtocolCount = 0
        var originalProtocolIsHTTP1 = false
        var fieldIndex = -1
        head.fields.forEachField { name, value in
            fieldIndex += 1
            switch name.count {
            case 6 where name.equalsIgnoringASCIICase("expect"):
                hasExpect = true
            case 12 where !sawRequestID && name.equalsIgnoringASCIICase("x-request-id"):
                sawRequestID = true
                requestIDIsEmpty = value.isEmpty
            case 12 where !sawContentType && name.equalsIgnoringASCIICase("content-type"):
                sawContentType = true
                isGRPC = value.count >= 16 && UnsafeRawBufferPointer(rebasing: value[..<16]).equalsIgnoringASCIICase("application/grpc")
            case 17 where name.equalsIgnoringASCIICase("x-sidecar-attempt"):
                hasAttempt = true
            case 23 where name.equalsIgnoringASCIICase("x-forwarded-client-cert"):
                hasClientCert = true
            case 20 where OriginalProtocolHeader.isName(name):
                originalProtocolCount += 1
                if originalProtocolIndex == nil {
                    originalProtocolIndex = fieldIndex
                    originalProtocolIsHTTP1 = OriginalProtocolHeader.saysHTTP1(value)
                }
            default:
                return
            }
        }
        // Each hop that upgrades adds its own; a caller's is never passed on, and only another
        // sidecar's (a verified mTLS caller of an inbound listener that picked `sidecar/h2`) is
        // believed.
        if let originalProtocolIndex {
            // The one a sidecar sends is found on the way and taken out by its place (before any
            // other removal moves it); a caller that sent more than one gets all taken out.
            if originalProtocolCount == 1 {
                head.fields.remove(at: originalProtocolIndex)
            } else {
                head.fields.remove(name: OriginalProtocolHeader.name)
            }
        }
        if hasExpect { head.fields.remove(name: "expect") }
        receivedAttemptField = hasAttempt  // replaced by this hop's count with the first send
        if sawRequestID, !requestIDIsEmpty {
            requestIDSource = .caller
        } else {
            let id = worker.requestIDs.nextBits()
            requestIDSource = .made(high: id.high, low: id.low)
            if !sawRequestID {
                requestIDHeaderPending = true  // added with the attempt header, in one append
            } else {
                head.fields.replaceOrAdd(name: "x-request-id", value: RequestIDGenerator.text(high: id.high, low: id.low))
            }
        }
        if listener.direction == .inbound {
            if hasClientCert { head.fields.remove(name: "x-forwarded-client-cert") }
            if let peer, let own = worker.identity?.spiffeID {
                forwardedClientCertPending = peer.forwardedClientCert(own: own)  // added with the attempt header
            }
        }
        // (Several of them, which no sidecar sends, say nothing.)
        callerIsHTTP2 = head.version.major == 2
            && !(originalProtocolIsHTTP1 && originalProtocolCount == 1 && listener.direction == .inbound && peer?.isSidecar == true)
        // An HTTP/2 hop (if the attempts take one) says what the caller spoke.
        head.marksHTTP1Caller = !callerIsHTTP2 && listener.direction == .outbound
        head.version = .http1_1
        if let tracer = worker.tracer {
            trace = ExchangeTrace(headers: head.fields, tracer: tracer, direction: listener.direction, startTime: startTime)
        }
        self.isGRPC = isGRPC
        if worker.accessLog != nil || trace != nil {
            record = AccessLogRecord(
                direction: listener.direction,
                listener: listener.name,
                method: head.method.rawValue,
                path: head.uri,
                requestID: Self.text(of: requestIDSource, in: head.fields),
                peerIdentity: peer?.identity
            )
        }
        upstreamHead = consume head  // the last use: moved, not copied
        worker.drain.requestStarted()
    }

    // MARK: - Request from downstream

    /// Routes the request and starts the first attempt. Call once, after `init`.
    func start() {
        let clusterIndex: Int?
        switch listener.target {
        case .localApp(let index):
            clusterIndex = index
        case .routes(let table):
            clusterIndex = table.match(authority: upstreamHead.fields.first(name: "host") ?? "", uri: upstreamHead.uri)
        }
        guard let clusterIndex else {
            respondLocally(.noRoute)
            return
        }
        let cluster = worker.clusters[clusterIndex]
        self.cluster = cluster
        record?.cluster = cluster.cluster.name
        // Fields read one by one: a copy of the whole `ClusterConfig` would retain every
        // reference in it.
        maxRetries = cluster.maxRetries
        lowestRetriableStatus = cluster.lowestRetriableStatus
        maxBufferedBody = cluster.maxBufferedBody
        bodyReplayable = maxRetries > 0
        detectsOutliers = !cluster.cluster.isLocalApp

        guard cluster.cluster.circuitBreaker.tryAcquire(.requests) else {
            overflow(.requests)
            return
        }
        holdsRequestSlot = true
        if maxRetries > 0 {
            cluster.retryBudget.recordRequest(nowNanoseconds: Int64(startTime.uptimeNanoseconds))
        }

        var timeout = listener.direction == .inbound ? listener.timeouts.request : cluster.cluster.config.timeouts.request
        if listener.direction == .outbound, listener.timeouts.request > .zero, listener.timeouts.request < timeout {
            timeout = listener.timeouts.request
        }
        if isGRPC, let value = upstreamHead.fields.first(name: "grpc-timeout") {
            if let grpcTimeout = GRPCTimeout.parse(value) {
                guard grpcTimeout > .zero else {
                    // The caller's deadline has already passed.
                    respondLocally(.upstreamTimeout)
                    return
                }
                if timeout == .zero || grpcTimeout < timeout { timeout = grpcTimeout }
                grpcDeadline = startTime + timeout
            } else {
                upstreamHead.fields.remove(name: "grpc-timeout")
            }
        }
        if timeout > .zero {
            requestTimer = arm(requestTimer, .request, in: timeout)
        }
        startAttempt(avoid: nil)
    }

    func receiveBody(_ buffer: ByteBuffer) {
        guard !finished else { return }
        record?.bytesReceived += buffer.readableBytes
        bodyChunks.append(buffer)
        bodyBytesBuffered += buffer.readableBytes
        if bodyReplayable, bodyBytesBuffered > maxBufferedBody {
            bodyReplayable = false
            if maxRetries > 0 {
                record?.flags.append("body_too_large_to_retry")
                if let cluster { worker.metrics.recordBodyTooLargeToRetry(cluster: cluster.cluster.index) }
            }
        }
        flushBody()
    }

    func receiveEnd(_ trailers: HTTPHeaders?) {
        guard !finished, !requestComplete else { return }
        requestComplete = true
        requestTrailers = trailers
        flushBody()
    }

    /// The downstream went away (connection closed or stream reset): stop all work.
    func downstreamClosed() {
        guard !finished else { return }
        if responseEndSent {
            // An HTTP/2 stream closes as its last frame goes out: the exchange is complete.
            finish(status: responseStatus)
            return
        }
        record?.flags.append("downstream_closed")
        cancelUpstream()
        finish(status: responseStarted ? responseStatus : 0)
    }

    func downstreamWritabilityChanged() {
        guard let upstream else { return }
        upstream.setResponseReadingPaused(!downstream.isWritable)
    }

    // MARK: - Attempts

    private func startAttempt(avoid: Endpoint?) {
        guard !finished, let cluster else { return }
        guard let loopEndpoint = cluster.pickEndpoint(avoid: avoid, hashKey: hashKey(for: cluster)) else {
            respondLocally(.noHealthyUpstream)
            return
        }
        attempt += 1
        // The first attempt starts as the request does (a clock read is ~20 ns, ten a request).
        attemptStart = attemptStart == .uptimeNanoseconds(0) ? startTime : .now()
        upstreamEndpoint = loopEndpoint
        upstreamHeadSent = false
        requestEndSent = false
        bodyChunksSent = 0
        record?.upstreamAddress = loopEndpoint.endpoint.addressText
        trace?.attemptStarted(attempt: attempt, method: upstreamHead.method.rawValue, target: upstreamHead.uri, endpoint: loopEndpoint.endpoint.address, cluster: cluster.cluster.name)
        loopEndpoint.endpoint.activeRequests.wrappingAdd(1, ordering: .relaxed)
        loopEndpoint.endpoint.totalRequests.wrappingAdd(1, ordering: .relaxed)

        let perTry = cluster.cluster.config.timeouts.perTry
        if perTry > .zero, listener.direction == .outbound {
            perTryTimer = arm(perTryTimer, .perTry, in: perTry)
        }
        let versionChoice = cluster.cluster.versionChoice
        if versionChoice == .negotiated, loopEndpoint.speaksHTTP2 == false {
            loopEndpoint.recheckProtocolIfDue(now: attemptStart)
        }
        attemptUsesHTTP2 = versionChoice.usesHTTP2(to: loopEndpoint, callerIsHTTP2: callerIsHTTP2)
        if attemptUsesHTTP2, attempt == 1, loopEndpoint.speaksHTTP2 == nil, versionChoice.fallsBackToHTTP1 {
            // `auto` towards an endpoint not yet known to speak HTTP/2: keep the body (within
            // `maxBufferedBody`) so that the request can go again over HTTP/1.1 if it does not.
            bodyReplayable = true
        }
        if attemptUsesHTTP2 {
            startHTTP2Attempt(cluster: cluster, loopEndpoint: loopEndpoint)
            return
        }
        if let pooled = cluster.idleConnection(to: loopEndpoint, now: attemptStart) {
            attachHTTP1(pooled)
            return
        }
        // A new connection: this request waits for it (a pending request) and it counts as a
        // connection, both within the cluster's limits.
        let breaker = cluster.cluster.circuitBreaker
        guard breaker.tryAcquire(.pendingRequests) else {
            overflow(.pendingRequests)
            return
        }
        guard breaker.tryAcquire(.connections) else {
            breaker.release(.pendingRequests)
            overflow(.connections)
            return
        }
        holdsPendingSlot = true
        let attemptNumber = attempt
        cluster.connection(to: loopEndpoint).whenComplete { [self] result in
            // `upstreamEndpoint` is cleared when an attempt ends (e.g. its per-try timeout fired
            // while connecting): a connection for an abandoned attempt must not be attached. Its
            // pending slot was released when it ended.
            guard !finished, attempt == attemptNumber, upstream == nil, upstreamEndpoint === loopEndpoint else {
                // A fresh connection can still serve others.
                if case .success(let connection) = result { connection.releaseUnused() }
                return
            }
            releasePendingSlot()
            switch result {
            case .success(let connection):
                attachHTTP1(connection)
            case .failure(let error):
                worker.logger.debug("upstream connect failed", metadata: ["endpoint": "\(loopEndpoint.endpoint.address)", "error": "\(error)"])
                attemptFailed(.connectFailure)
            }
        }
    }

    /// An HTTP/2 attempt: a stream on a shared connection with a free slot, else on a new
    /// connection (which takes a `connections` slot, like an HTTP/1.1 connection). Streams opened
    /// while their connection is still connecting go out once it is up; a failed connect fails
    /// them as connect failures.
    private func startHTTP2Attempt(cluster: LoopCluster, loopEndpoint: LoopEndpoint) {
        if let stream = cluster.http2Stream(to: loopEndpoint, delegate: self) {
            attach(stream)
            return
        }
        guard cluster.cluster.circuitBreaker.tryAcquire(.connections) else {
            overflow(.connections)
            return
        }
        let connection = cluster.openHTTP2Connection(to: loopEndpoint)
        attach(connection.makeStream(delegate: self))
    }

    private func attachHTTP1(_ connection: HTTP1UpstreamConnection) {
        connection.begin(delegate: self)
        attach(connection)
    }

    /// The balancer's hash key: the configured header as the upstream will see it, including the
    /// generated `x-request-id` or the `x-forwarded-client-cert` that wait for the first attempt.
    private func hashKey(for cluster: LoopCluster) -> Substring? {
        guard let name = cluster.hashKeyHeader else { return nil }
        if !attemptHeaderAdded {
            if requestIDHeaderPending, name.equalsIgnoringASCIICase("x-request-id") { return Substring(requestID) }
            if let forwardedClientCertPending, name.equalsIgnoringASCIICase("x-forwarded-client-cert") {
                return Substring(forwardedClientCertPending)
            }
        }
        return cluster.hashKey(in: upstreamHead.fields)
    }

    private func attach(_ stream: UpstreamStream) {
        upstream = stream
        // Mutated in place: a copy would duplicate every header per attempt.
        if !attemptHeaderAdded {
            attemptHeaderAdded = true
            // The received field (usually the previous hop's `1`) takes this hop's count in place
            // when it can: removing a field is a pass over the head, and breaks up the runs of
            // lines the encoder copies whole.
            if !(receivedAttemptField && attempt == 1
                && upstreamHead.fields.overwriteOnlyValue(lowercaseName: "x-sidecar-attempt", with: "1"))
            {
                if receivedAttemptField { upstreamHead.fields.remove(name: "x-sidecar-attempt") }
                upstreamHead.fields.append(name: "x-sidecar-attempt", value: attempt == 1 ? "1" : String(attempt))
            }
            if requestIDHeaderPending, case .made(let high, let low) = requestIDSource {
                upstreamHead.fields.append(name: "x-request-id", uuidHigh: high, low: low)
            }
            if let forwardedClientCertPending { upstreamHead.fields.append(name: "x-forwarded-client-cert", value: forwardedClientCertPending) }
        } else {
            upstreamHead.fields.replaceOrAdd(name: "x-sidecar-attempt", value: String(attempt))
        }
        if let grpcDeadline {
            upstreamHead.fields.replaceOrAdd(name: "grpc-timeout", value: GRPCTimeout.format(grpcDeadline - .now()))
        }
        trace?.stamp(&upstreamHead.fields)
        stream.sendRequestHead(upstreamHead, hasBody: requestHasBody)
        upstreamHeadSent = true
        flushBody()
        // The head goes out now even when no body has arrived yet (the end flushes by itself).
        if !requestEndSent { stream.flush() }
    }

    /// Sends what the current attempt has not sent yet, and applies backpressure to the downstream.
    private func flushBody() {
        // NIO reports writability changes synchronously from inside write and flush; a nested
        // call would send chunks the outer loop has not counted yet (or cut into a chunk's
        // framing). The outer call finishes the work and re-reads writability at its end.
        guard !flushingBody else { return }
        flushingBody = true
        defer { flushingBody = false }
        if let upstream, upstreamHeadSent {
            let sentBefore = bodyChunksSent
            while bodyChunksSent < bodyChunks.count {
                let chunk = bodyChunks[bodyChunksSent]
                upstream.sendRequestBody(chunk)
                bodyChunksSent += 1
            }
            let wroteBody = bodyChunksSent > sentBefore
            if !bodyReplayable {
                // Nothing will be replayed: release what has been sent.
                bodyChunks.removeAll(keepingCapacity: true)
                bodyChunksSent = 0
                bodyBytesBuffered = 0
            }
            if requestComplete, !requestEndSent {
                requestEndSent = true
                upstream.sendRequestEnd(requestTrailers)
            } else if wroteBody {
                upstream.flush()
            }
        }
        // Pause the downstream while bytes wait for a connection or for the upstream to drain.
        let shouldPause: Bool
        if requestComplete {
            shouldPause = false
        } else if let upstream {
            shouldPause = !upstream.isWritable
        } else {
            shouldPause = unsentBytes > 0
        }
        if shouldPause != downstreamPaused {
            downstreamPaused = shouldPause
            downstream.setRequestReadingPaused(shouldPause)
        }
    }

    private var unsentBytes: Int {
        var total = 0
        var index = bodyChunksSent
        while index < bodyChunks.count {
            total += bodyChunks[index].readableBytes
            index += 1
        }
        return total
    }

    private func releasePendingSlot() {
        if holdsPendingSlot {
            holdsPendingSlot = false
            cluster?.cluster.circuitBreaker.release(.pendingRequests)
        }
    }

    private func endAttempt() {
        trace?.attemptEnded()
        disarm(perTryTimer)
        releasePendingSlot()
        if holdsRetrySlot {
            holdsRetrySlot = false
            cluster?.cluster.circuitBreaker.release(.retries)
        }
        if let endpoint = upstreamEndpoint {
            endpoint.endpoint.activeRequests.wrappingSubtract(1, ordering: .relaxed)
            upstreamEndpoint = nil
        }
    }

    private func cancelUpstream() {
        dropHeldResponse()
        if let upstream {
            upstream.delegate = nil
            upstream.cancel()
            self.upstream = nil
        }
        endAttempt()
    }

    /// `auto`: the endpoint picked HTTP/1.1 by ALPN, or the app answered the HTTP/2 preface in
    /// HTTP/1.1 (it is now noted as not speaking HTTP/2). Nothing was processed: the same attempt
    /// goes again over HTTP/1.1 — not a retry, and not a failure of the endpoint. A retry keeps
    /// the retry slot it holds.
    private func startAttemptAgainOverHTTP1() {
        let heldRetrySlot = holdsRetrySlot
        holdsRetrySlot = false
        cancelUpstream()
        holdsRetrySlot = heldRetrySlot
        attempt -= 1
        startAttempt(avoid: nil)
    }

    /// An attempt ended without a usable response: retry it, or answer with the matching flag.
    private func attemptFailed(_ outcome: AttemptOutcome) {
        guard !finished, !responseStarted else { return }
        trace?.attemptFailed(outcome)
        let failedEndpoint = upstreamEndpoint?.endpoint
        if outcome != .refusedStream { recordOutlier(.gatewayError) }
        cancelUpstream()
        if let reason = retryPermit(for: outcome) {
            scheduleRetry(reason: reason, avoid: failedEndpoint)
            return
        }
        switch outcome {
        case .connectFailure: respondLocally(.upstreamConnectFailure)
        case .reset, .refusedStream: respondLocally(.upstreamReset)
        case .perTryTimeout: respondLocally(.upstreamPerTryTimeout)
        case .response: respondLocally(.upstreamReset)
        }
    }

    /// Whether `outcome` may be retried now: the policy says so, attempts remain, the body can be
    /// replayed, the cluster's retry limit has room and the retry budget allows one. Returns the
    /// retry's reason (and holds a retry slot) or nil. Refusals by the limit or the budget are counted.
    private func retryPermit(for outcome: AttemptOutcome) -> String? {
        guard attempt <= maxRetries, let cluster, let reason = cluster.retryPolicy.retryReason(for: outcome) else { return nil }
        guard bodyReplayable else { return nil }
        let breaker = cluster.cluster.circuitBreaker
        guard breaker.tryAcquire(.retries) else {
            worker.metrics.recordOverflow(cluster: cluster.cluster.index, limit: CircuitBreaker.Limit.retries.rawValue)
            record?.flags.append("retry_overflow")
            return nil
        }
        guard cluster.retryBudget.tryWithdraw(nowNanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) else {
            breaker.release(.retries)
            worker.metrics.recordBudgetExhausted(cluster: cluster.cluster.index)
            record?.flags.append("retry_budget_exhausted")
            return nil
        }
        // The slot is taken now; `scheduleRetry` records that the next attempt holds it. (Setting
        // the flag here would let the ending attempt's `endAttempt` release this new slot in
        // place of its own, leaking one.)
        return reason
    }

    /// Feeds passive health: the outcome of the current attempt at its endpoint.
    private func recordOutlier(_ outcome: OutlierDetector.Outcome) {
        guard detectsOutliers else { return }
        if outcome == .success {
            // Nearly every call: only the endpoint's counters, without the cluster's state.
            if let endpoint = upstreamEndpoint?.endpoint { OutlierDetector.recordSuccess(endpoint) }
            return
        }
        guard let cluster, let endpoint = upstreamEndpoint?.endpoint else { return }
        if cluster.cluster.outlierDetector.record(outcome, endpoint: endpoint, endpoints: cluster.memberEndpoints, now: .now()) {
            worker.metrics.recordEjection(cluster: cluster.cluster.index)
            worker.logger.info("outlier ejected", metadata: ["cluster": "\(cluster.cluster.name)", "endpoint": "\(endpoint.address)"])
        }
    }

    /// Answers 503 `upstream_overflow` for a circuit-breaker limit, and counts it.
    private func overflow(_ limit: CircuitBreaker.Limit) {
        if let cluster { worker.metrics.recordOverflow(cluster: cluster.cluster.index, limit: limit.rawValue) }
        respondLocally(.upstreamOverflow)
    }

    /// Starts the next attempt after backoff. Callers end the current attempt first (releasing a
    /// retry slot it held) and got the new slot from `retryPermit`.
    private func scheduleRetry(reason: String, avoid: Endpoint?) {
        guard let cluster else { preconditionFailure("retryPermit permits retries of routed requests only") }
        holdsRetrySlot = true
        record?.retries += 1
        worker.metrics.recordRetry(cluster: cluster.cluster.index, reason: reason)
        let delay = cluster.backoff.delay(forRetry: attempt, using: &worker.random)
        if delay == .zero {
            startAttempt(avoid: avoid)
            return
        }
        backoffAvoid = avoid
        backoffTimer = arm(backoffTimer, .backoff, in: delay)
    }

    // MARK: - Timers

    private enum TimerKind: UInt8 {
        case request, perTry, backoff
    }

    private func arm(_ timer: WheelTimer?, _ kind: TimerKind, in amount: TimeAmount) -> WheelTimer {
        let timer = timer ?? worker.timers.makeTimer(kind: kind.rawValue, target: self)
        worker.timers.arm(timer, in: amount)
        return timer
    }

    private func disarm(_ timer: WheelTimer?) {
        if let timer { worker.timers.cancel(timer) }
    }

    func wheelTimerFired(_ timer: WheelTimer) {
        switch TimerKind(rawValue: timer.kind) {
        case .request:
            requestTimedOut()
        case .perTry:
            attemptFailed(.perTryTimeout)
        case .backoff:
            let avoid = backoffAvoid
            backoffAvoid = nil
            startAttempt(avoid: avoid)
        case nil:
            break
        }
    }

    deinit {
        // Every owner of an exchange (its downstream, its upstream, future callbacks) lets it go
        // on its loop: the wheel is the loop's alone.
        worker.eventLoop.assertInEventLoop()
        // A wheel timer does not keep its target alive: none may stay armed past this exchange.
        // They go back to the wheel, disarmed, for the next exchanges of this loop.
        if let requestTimer { worker.timers.recycle(requestTimer) }
        if let backoffTimer { worker.timers.recycle(backoffTimer) }
        if let perTryTimer { worker.timers.recycle(perTryTimer) }
    }

    private func requestTimedOut() {
        guard !finished else { return }
        disarm(backoffTimer)
        recordOutlier(.gatewayError)
        cancelUpstream()
        if responseStarted {
            record?.flags.append(ProxyErrorFlag.upstreamTimeout.rawValue)
            downstream.abort()
            finish(status: responseStatus)
        } else {
            respondLocally(.upstreamTimeout)
        }
    }

    // MARK: - Response from upstream

    func upstreamResponseHead(_ head: consuming ProxyResponseHead) {
        guard !finished else { return }
        let status = Int(head.status.code)
        if let cluster, let loopEndpoint = upstreamEndpoint, cluster.observesLatency {
            let now = NIODeadline.now()
            cluster.observeLatency(
                of: loopEndpoint,
                latencyNanoseconds: UInt64(max(0, (now - attemptStart).nanoseconds)),
                nowNanoseconds: now.uptimeNanoseconds
            )
        }
        trace?.attemptResponse(status: status)
        if status >= 500 {
            recordOutlier(status == 502 || status == 503 || status == 504 ? .gatewayError : .serverError)
        } else {
            recordOutlier(.success)
        }
        if maxRetries > 0, isGRPC || status >= lowestRetriableStatus {
            let grpcStatus = isGRPC ? head.fields.first(name: "grpc-status").flatMap { Int($0) } : nil
            if let reason = retryPermit(for: .response(status: status, grpcStatus: grpcStatus)) {
                let failedEndpoint = upstreamEndpoint?.endpoint
                cancelUpstream()
                scheduleRetry(reason: reason, avoid: failedEndpoint)
                return
            }
        }
        if isGRPC, status == 200, attempt <= maxRetries, bodyReplayable, cluster?.retriesOnGRPCStatus == true,
            !head.fields.contains(name: "grpc-status")
        {
            // The grpc-status comes in the trailers: hold the response until then.
            heldHead = head
            return
        }
        forwardResponseHead(head)
    }

    private func forwardResponseHead(_ head: consuming ProxyResponseHead) {
        responseStarted = true
        disarm(backoffTimer)
        responseStatus = Int(head.status.code)
        HopByHopHeaders.strip(&head.fields)
        downstream.sendResponseHead(head)
        if !downstream.isWritable { upstream?.setResponseReadingPaused(true) }
    }

    /// Sends the held gRPC response on: its status is not retriable, or it outgrew the buffer.
    private func releaseHeldResponse() {
        guard let head = heldHead else { return }
        let body = heldBody
        dropHeldResponse()
        forwardResponseHead(head)
        for chunk in body {
            record?.bytesSent += chunk.readableBytes
            downstream.sendResponseBody(chunk)
        }
        if !downstream.isWritable { upstream?.setResponseReadingPaused(true) }
    }

    private func dropHeldResponse() {
        heldHead = nil
        heldBody.removeAll()
        heldBytes = 0
    }

    func upstreamResponseBody(_ buffer: ByteBuffer) {
        guard !finished else { return }
        if heldHead != nil {
            heldBody.append(buffer)
            heldBytes += buffer.readableBytes
            if heldBytes > maxBufferedBody {
                record?.flags.append("grpc_response_too_large_to_retry")
                releaseHeldResponse()
            }
            return
        }
        record?.bytesSent += buffer.readableBytes
        downstream.sendResponseBody(buffer)
        if !downstream.isWritable { upstream?.setResponseReadingPaused(true) }
    }

    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        guard !finished else { return }
        if let held = heldHead {
            let grpcStatus = trailers?.first(name: "grpc-status").flatMap { Int($0) }
            if let reason = retryPermit(for: .response(status: Int(held.status.code), grpcStatus: grpcStatus)) {
                let failedEndpoint = upstreamEndpoint?.endpoint
                dropHeldResponse()
                upstream = nil
                endAttempt()
                scheduleRetry(reason: reason, avoid: failedEndpoint)
                return
            }
            releaseHeldResponse()
        }
        upstream = nil
        endAttempt()
        responseEndSent = true
        downstream.sendResponseEnd(trailers)
        finish(status: responseStatus)
    }

    func upstreamFailed(_ failure: UpstreamFailure) {
        guard !finished else { return }
        upstream = nil
        if responseStarted {
            record?.flags.append(failure == .protocolError ? ProxyErrorFlag.upstreamProtocolError.rawValue : ProxyErrorFlag.upstreamReset.rawValue)
            recordOutlier(.gatewayError)
            endAttempt()
            downstream.abort()
            finish(status: responseStatus)
            return
        }
        switch failure {
        case .http2NotSpoken(let reason):
            if cluster?.cluster.versionChoice.fallsBackToHTTP1 == true, bodyReplayable {
                startAttemptAgainOverHTTP1()
            } else {
                worker.logger.debug("upstream does not speak HTTP/2", metadata: ["reason": "\(reason)"])
                attemptFailed(.connectFailure)
            }
        case .connectFailed:
            attemptFailed(.connectFailure)
        case .refusedStream:
            attemptFailed(.refusedStream)
        case .reset:
            attemptFailed(.reset)
        case .protocolError:
            recordOutlier(.gatewayError)
            endAttempt()
            respondLocally(.upstreamProtocolError)
        }
    }

    func upstreamReadComplete() {
        if responseStarted, !finished { downstream.flush() }
    }

    func upstreamWritabilityChanged() {
        guard !finished else { return }
        flushBody()
    }

    // MARK: - Finishing

    /// Answers the request from the sidecar itself with `flag` (CONTRACT section 4 and 4a).
    func respondLocally(_ flag: ProxyErrorFlag) {
        guard !finished else { return }
        cancelUpstream()
        disarm(backoffTimer)
        record?.flags.append(flag.rawValue)
        let response = LocalResponse(flag: flag, grpc: isGRPC, requestID: requestID)
        responseStatus = Int(response.head.status.code)
        responseStarted = true
        downstream.sendResponseHead(response.head)
        // A response to HEAD has no body on the wire (its `content-length` still says what a
        // GET would have had): the text is neither sent nor counted in the access log.
        if response.body.readableBytes > 0, !upstreamHead.method.isHEAD {
            record?.bytesSent += response.body.readableBytes
            downstream.sendResponseBody(response.body)
        }
        responseEndSent = true
        downstream.sendResponseEnd(nil)
        finish(status: responseStatus)
    }

    private func finish(status: Int) {
        guard !finished else { return }
        finished = true
        disarm(requestTimer)
        disarm(backoffTimer)
        disarm(perTryTimer)
        backoffAvoid = nil
        bodyChunks.removeAll()
        endAttempt()
        if holdsRequestSlot {
            holdsRequestSlot = false
            cluster?.cluster.circuitBreaker.release(.requests)
        }
        responseStatus = status
        let duration = NIODeadline.now() - startTime
        worker.metrics.recordRequest(
            listener: listener.index,
            cluster: cluster?.cluster.index ?? -1,
            code: status,
            durationNanoseconds: duration.nanoseconds
        )
        if record != nil {
            record!.status = status
            record!.attempts = attempt
            record!.duration = duration
            if trace != nil {
                record!.traceID = trace!.traceID
                record!.spanID = trace!.finish(record: record!, downstream: downstream)
            }
            worker.accessLog?.append(record!)
        }
        worker.drain.requestFinished()
        downstream.exchangeDidFinish(self)
    }

    /// Whether the whole request was read from the downstream (an HTTP/1.1 connection can only be
    /// reused when it was).
    var isRequestComplete: Bool { requestComplete }
}

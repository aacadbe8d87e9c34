import NIOCore
import NIOHTTP1

/// The tracing side of one `ProxyExchange`: which trace it belongs to, its spans, and the headers
/// each upstream attempt carries. A value stored in the exchange (nil when `tracing` is not
/// configured, so the no-tracing path costs one nil check per hook).
///
/// - Inbound listener: one SERVER span for the request, a child of the incoming context; the
///   application receives the SERVER span as its parent.
/// - Outbound listener: no SERVER span (the application is the client); one CLIENT span per
///   upstream attempt, each a child of the incoming context, and each attempt's headers name its
///   own CLIENT span. A request answered by the sidecar before any attempt (e.g. `no_route`)
///   still gets one CLIENT span carrying `sidecar.error`, so the failure is visible.
///
/// Spans are recorded only when the trace is sampled and `tracing.otlp` is set.
struct ExchangeTrace {
    let tracer: LoopTracer
    let traceID: TraceID
    /// The caller's span (0 when this request starts the trace).
    let incomingParent: UInt64
    let sampled: Bool
    let debug: Bool
    let traceState: String?
    /// The request carried `X-B3-*` headers: they are rewritten along with `b3`.
    let rewriteB3Multi: Bool
    let direction: TrafficDirection
    /// Inbound: the SERVER span's id; outbound: 0.
    let serverSpanID: UInt64
    private let startUnixNanos: UInt64
    private let startUptimeNanos: UInt64
    private let records: Bool

    /// The current (or last) attempt's CLIENT span; recorded when the next attempt starts or in `finish`.
    private var client: SpanRecord?
    private var clientOpen = false
    private var clientSpansRecorded = 0
    private var lastRecordedClientSpanID: UInt64 = 0

    /// The span the access log names: the SERVER span, or the last CLIENT span.
    var loggedSpanID: UInt64 { direction == .inbound ? serverSpanID : (client?.spanID ?? 0) }

    init(headers: HTTPFieldBlock, tracer: LoopTracer, direction: TrafficDirection, startTime: NIODeadline) {
        self.tracer = tracer
        self.direction = direction
        let settings = tracer.settings
        let incoming = TraceContextParser.extract(from: headers, formats: settings.formats)
        if let incoming, let id = incoming.traceID, let parent = incoming.parentSpanID {
            traceID = id
            incomingParent = parent
            traceState = incoming.traceState
        } else {
            traceID = tracer.nextTraceID()
            incomingParent = 0
            traceState = nil
        }
        debug = incoming?.debug ?? false
        sampled = incoming?.sampled ?? tracer.sampleNewTrace()
        rewriteB3Multi = settings.formats.contains(.b3) && (headers.contains(name: "x-b3-traceid") || headers.contains(name: "x-b3-spanid") || headers.contains(name: "x-b3-sampled") || headers.contains(name: "x-b3-flags"))
        serverSpanID = direction == .inbound ? tracer.nextSpanID() : 0
        // The wall-clock time of `startTime`: both clocks read now, the monotonic gap taken off.
        let nowUptime = NIODeadline.now().uptimeNanoseconds
        let nowUnix = WallClock.unixNanoseconds()
        startUptimeNanos = startTime.uptimeNanoseconds
        startUnixNanos = nowUnix &- (nowUptime &- startUptimeNanos)
        records = sampled && settings.recordsSpans
    }

    private func unixNanos(_ time: NIODeadline) -> UInt64 {
        startUnixNanos &+ (time.uptimeNanoseconds &- startUptimeNanos)
    }

    // MARK: - Attempts

    /// An upstream attempt starts (outbound only): its CLIENT span opens, the previous one is recorded.
    mutating func attemptStarted(attempt: Int, method: String, target: String, endpoint: SocketAddressSpec, cluster: String) {
        guard direction == .outbound else { return }
        recordClient()
        var span = SpanRecord(
            kind: .client, traceID: traceID, spanID: tracer.nextSpanID(), parentSpanID: incomingParent,
            startUnixNanos: unixNanos(.now()), method: method, target: target
        )
        span.upstream = endpoint
        span.cluster = cluster
        span.resendCount = attempt - 1
        client = span
        clientOpen = true
    }

    /// Writes the trace headers the current attempt carries (its CLIENT span outbound, the SERVER
    /// span inbound) in every configured format.
    func stamp(_ headers: inout HTTPFieldBlock) {
        let spanID = direction == .inbound ? serverSpanID : (client?.spanID ?? tracer.nextSpanID())
        let outgoing = TraceHeaderWriter.Outgoing(
            traceID: traceID, spanID: spanID, parentSpanID: incomingParent,
            sampled: sampled, debug: debug, traceState: traceState
        )
        TraceHeaderWriter.write(outgoing, formats: tracer.settings.formats, rewriteB3Multi: rewriteB3Multi, into: &headers)
    }

    /// The current attempt got a response head with `status`.
    mutating func attemptResponse(status: Int) {
        guard clientOpen else { return }
        client?.statusCode = status
    }

    /// The current attempt failed without a usable response.
    mutating func attemptFailed(_ outcome: AttemptOutcome) {
        guard clientOpen else { return }
        switch outcome {
        case .connectFailure: client?.errorType = ProxyErrorFlag.upstreamConnectFailure.rawValue
        case .reset: client?.errorType = ProxyErrorFlag.upstreamReset.rawValue
        case .refusedStream: client?.errorType = "refused_stream"
        case .perTryTimeout: client?.errorType = ProxyErrorFlag.upstreamPerTryTimeout.rawValue
        case .response(let status, _): client?.errorType = String(status)
        }
    }

    /// The current attempt is over (safe to call more than once).
    mutating func attemptEnded() {
        guard clientOpen else { return }
        clientOpen = false
        let end = unixNanos(.now())
        client?.endUnixNanos = end
    }

    private mutating func recordClient() {
        guard var span = client else { return }
        if clientOpen {
            clientOpen = false
            span.endUnixNanos = unixNanos(.now())
        }
        clientSpansRecorded += 1
        if records {
            if span.errorType == nil, span.statusCode >= 400 { span.errorType = String(span.statusCode) }
            tracer.record(span)
        }
        client = nil
        lastRecordedClientSpanID = span.spanID
    }

    // MARK: - Finish

    /// The request is over: records the SERVER span (inbound) or the last CLIENT span (outbound),
    /// with the final status and the sidecar's error flag taken from the access-log record.
    /// Returns the span id the access log names.
    mutating func finish(record: AccessLogRecord, downstream: DownstreamStream) -> UInt64 {
        let flag = record.flags.last { ProxyErrorFlag(rawValue: $0) != nil }
        let now = NIODeadline.now()
        switch direction {
        case .inbound:
            guard records else { return serverSpanID }
            var span = SpanRecord(
                kind: .server, traceID: traceID, spanID: serverSpanID, parentSpanID: incomingParent,
                startUnixNanos: startUnixNanos, method: record.method, target: record.path
            )
            span.endUnixNanos = unixNanos(now)
            span.statusCode = record.status
            span.cluster = record.cluster
            span.peerIdentity = record.peerIdentity
            span.localAddress = downstream.localAddress
            span.peerAddress = downstream.remoteAddress
            span.sidecarError = flag
            if let flag {
                span.errorType = flag
            } else if record.status >= 500 {
                span.errorType = String(record.status)
            }
            tracer.record(span)
            return serverSpanID
        case .outbound:
            if client == nil, clientSpansRecorded == 0 {
                // Answered by the sidecar before any attempt: one CLIENT span to carry the flag.
                var span = SpanRecord(
                    kind: .client, traceID: traceID, spanID: tracer.nextSpanID(), parentSpanID: incomingParent,
                    startUnixNanos: startUnixNanos, method: record.method, target: record.path
                )
                span.cluster = record.cluster
                client = span
                clientOpen = true
            }
            if let flag {
                client?.sidecarError = flag
                if client?.errorType == nil { client?.errorType = flag }
            }
            if client?.statusCode == 0 || flag != nil { client?.statusCode = record.status }
            recordClient()
            return lastRecordedClientSpanID
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Sends the spans every event loop recorded to an OTLP/HTTP collector (`tracing.otlp`), with
/// protobuf bodies, from a thread of its own.
///
/// Every `flushInterval` (or as soon as one loop holds `batchSize` spans) it runs a task on each
/// worker loop that swaps that loop's `SpanBuffer` out, queues the spans (at most `maxQueue`
/// waiting; beyond that they are dropped) and POSTs them in batches of `batchSize`, one request at
/// a time, through `SimpleHTTPClient`. A batch the collector does not accept (no connection, a
/// timeout, a non-2xx answer) is retried `maxRetries` times with backoff, then dropped. Every drop
/// is counted in `sidecar_trace_spans_dropped_total`, every accepted span in
/// `sidecar_trace_spans_exported_total`. The data path never waits for any of this.
///
/// State is confined to the exporter's own event loop (hence `@unchecked Sendable`).
final class OTLPExporter: @unchecked Sendable {
    /// One worker loop and its tracer (each only touched on that loop).
    struct Source: @unchecked Sendable {
        let eventLoop: EventLoop
        let tracer: LoopTracer
    }

    static let maxRetries = 2
    static let retryBackoff = TimeAmount.milliseconds(200)
    static let requestTimeout = TimeAmount.seconds(3)

    private let group: MultiThreadedEventLoopGroup
    let eventLoop: EventLoop
    private let endpoint: HTTPEndpointURL
    private let serviceName: String
    private let batchSize: Int
    private let maxQueue: Int
    private let flushInterval: TimeAmount
    private let sources: [Source]
    private let metrics: ControlPlaneMetrics
    private let logger: Logger

    // Loop-bound state.
    private var client: SimpleHTTPClient?
    private var queue: [SpanRecord] = []
    private var sending = false
    private var collecting = false
    private var stopping = false
    private var timer: RepeatedTask?
    private var idleWaiters: [EventLoopPromise<Void>] = []
    private var lastFailureLog: NIODeadline?

    init(config: OTLPConfig, endpoint: HTTPEndpointURL, serviceName: String, sources: [Source], metrics: ControlPlaneMetrics, logger: Logger) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.eventLoop = group.next()
        self.endpoint = endpoint
        self.serviceName = serviceName
        self.batchSize = max(1, config.batchSize)
        self.maxQueue = max(self.batchSize, config.maxQueue)
        self.flushInterval = config.flushInterval > .zero ? config.flushInterval : .seconds(1)
        self.sources = sources
        self.metrics = metrics
        self.logger = logger
        for source in sources {
            source.tracer.onBatchReady = { [weak self] in self?.collectSoon() }
        }
    }

    /// Starts the periodic collection.
    func start() {
        eventLoop.execute { [self] in
            Self.lowerThisThreadsPriority()
            guard timer == nil, !stopping else { return }
            timer = eventLoop.scheduleRepeatedTask(initialDelay: flushInterval, delay: flushInterval) { [weak self] _ in
                self?.collectAndSend()
            }
        }
    }

    /// Export is background work: on a busy machine its bursts (encoding a batch, the POST) must
    /// not take the CPU from the worker loops. This thread's nice value goes 10 above what it was,
    /// the worker loops' (Linux keeps a nice value per thread, and `who` 0 is the calling one): under
    /// contention it gets about a tenth of a worker's share, and all of an idle CPU. (On a machine
    /// saturated for long, more spans then wait, and beyond `maxQueue` are dropped and counted.)
    private static func lowerThisThreadsPriority() {
        #if os(Linux)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, 0)
        guard errno == 0 else { return }
        _ = setpriority(which, 0, min(current + 10, 19))
        #endif
    }

    /// A loop's buffer reached `batchSize`: collect now rather than at the next tick. Any thread.
    func collectSoon() {
        eventLoop.execute { [weak self] in self?.collectAndSend() }
    }

    /// Collects what the loops hold and exports everything queued within `timeout`; what is still
    /// waiting then is dropped and counted. Batches are not retried any more once this is called.
    func flush(within timeout: TimeAmount) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            stopping = true
            timer?.cancel()
            timer = nil
            let idle = eventLoop.makePromise(of: Void.self)
            idleWaiters.append(idle)
            let deadline = eventLoop.scheduleTask(in: timeout) { [self] in
                let left = queue.count
                queue.removeAll()
                if left > 0 {
                    metrics.spansDropped.increment(by: Int64(left))
                    logger.warning("trace export: spans left at shutdown were dropped", metadata: ["spans": "\(left)"])
                }
                let waiters = idleWaiters
                idleWaiters.removeAll()
                for waiter in waiters { waiter.succeed(()) }
            }
            collectAndSend()
            notifyIfIdle()
            return idle.futureResult.always { _ in
                deadline.cancel()
                self.client?.close()
            }
        }
    }

    /// Stops the exporter's thread (after `flush`).
    func shutdownThread() async {
        try? await group.shutdownGracefully()
    }

    // MARK: - Loop-bound work

    private func collectAndSend() {
        eventLoop.assertInEventLoop()
        guard !collecting else { return }
        collecting = true
        let collected = sources.map { source in
            source.eventLoop.submit { source.tracer.collect() }
        }
        EventLoopFuture.whenAllComplete(collected, on: eventLoop).whenSuccess { [self] results in
            collecting = false
            var dropped = 0
            for case .success(let result) in results {
                dropped += result.dropped
                let room = maxQueue - queue.count
                if result.spans.count <= room {
                    queue.append(contentsOf: result.spans)
                } else {
                    if room > 0 { queue.append(contentsOf: result.spans.prefix(room)) }
                    dropped += result.spans.count - max(0, room)
                }
            }
            if dropped > 0 { metrics.spansDropped.increment(by: Int64(dropped)) }
            sendNext()
        }
    }

    /// Sends the next batch unless one is in flight.
    private func sendNext() {
        guard !sending else { return }
        guard !queue.isEmpty else {
            notifyIfIdle()
            return
        }
        let count = min(batchSize, queue.count)
        let batch = Array(queue.prefix(count))
        queue.removeFirst(count)
        sending = true
        send(batch, retry: 0)
    }

    private func send(_ batch: [SpanRecord], retry: Int) {
        let body = OTLPSpanEncoder.body(batch, serviceName: serviceName)
        let client: SimpleHTTPClient
        do {
            client = try httpClient()
        } catch {
            batchFailed(batch, reason: "cannot resolve \(endpoint.address): \(error)", retry: retry)
            return
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/x-protobuf")
        headers.add(name: "user-agent", value: "sidecar/\(SidecarVersion.string)")
        client.execute(method: .POST, path: endpoint.path, headers: headers, body: body, timeout: Self.requestTimeout).whenComplete { [self] result in
            switch result {
            case .success(let response) where (200..<300).contains(response.status):
                metrics.spansExported.increment(by: Int64(batch.count))
                sending = false
                sendNext()
            case .success(let response):
                batchFailed(batch, reason: "collector answered \(response.status)", retry: retry)
            case .failure(let error):
                batchFailed(batch, reason: "\(error)", retry: retry)
            }
        }
    }

    /// Retries `batch` after a backoff, or drops and counts it once retries are used up (or the
    /// exporter is stopping).
    private func batchFailed(_ batch: [SpanRecord], reason: String, retry: Int) {
        if retry < Self.maxRetries, !stopping {
            let delay = TimeAmount.nanoseconds(Self.retryBackoff.nanoseconds << Int64(retry))
            eventLoop.scheduleTask(in: delay) { [self] in
                send(batch, retry: retry + 1)
            }
            return
        }
        metrics.spansDropped.increment(by: Int64(batch.count))
        let now = NIODeadline.now()
        if lastFailureLog.map({ now - $0 > .seconds(10) }) ?? true {
            lastFailureLog = now
            logger.warning("trace export failed, spans dropped", metadata: ["spans": "\(batch.count)", "reason": "\(reason)", "endpoint": "\(endpoint)"])
        }
        sending = false
        sendNext()
    }

    private func notifyIfIdle() {
        guard !sending, !collecting, queue.isEmpty, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for waiter in waiters { waiter.succeed(()) }
    }

    private func httpClient() throws -> SimpleHTTPClient {
        if let client { return client }
        let spec = endpoint.address
        let address: SocketAddress
        if let literal = try? SocketAddress(ipAddress: spec.host, port: spec.port) {
            address = literal
        } else {
            // A host name: resolved on the exporter's own thread, once.
            address = try SocketAddress.makeAddressResolvingHost(spec.host, port: spec.port)
        }
        let made = SimpleHTTPClient(eventLoop: eventLoop, address: address, hostHeader: spec.description, maxResponseBody: 64 * 1024)
        client = made
        return made
    }
}

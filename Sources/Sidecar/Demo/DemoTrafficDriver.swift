import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The demo's frontend app: a few concurrent callers, each paced to a modest rate, calling the
/// frontend sidecar's outbound listener (`Host: payments`, and every fifth call `Host: ledger`).
/// Each call starts a trace (`traceparent` with a new trace id and the caller's own span id), so
/// the demo can draw the app's call as the root of the sidecars' spans.
final class DemoTrafficDriver: Sendable {
    /// Counts since the last `takeWindow()`.
    struct Window: Sendable {
        var requests = 0
        var ok = 0
        var latenciesMs: [Double] = []
        var ledgerRequests = 0
        var ledgerOK = 0
    }

    /// Counts over the whole run.
    struct Totals: Sendable {
        var requests = 0
        var ok = 0
        var latenciesMs: [Double] = []
        var ledgerRequests = 0
        var ledgerOK = 0
        /// `x-sidecar-error` flags (or client errors) of failed calls.
        var failures: [String: Int] = [:]
    }

    /// The app's side of one call: the root of its trace.
    struct RootCall: Sendable {
        var spanID: String
        var target: String
        var method: String
        var path: String
        var status: Int
        var startUnixNanos: UInt64
        var durationNanos: Int64
    }

    static let concurrency = 4
    /// Per caller: at most one call per this interval (4 callers: at most 160 calls/s).
    static let pacing: TimeAmount = .milliseconds(25)
    static let maxKept = 200_000

    private let group: EventLoopGroup
    private let address: SocketAddress
    private let state = NIOLockedValueBox<(window: Window, totals: Totals, roots: [String: RootCall])>((Window(), Totals(), [:]))

    init(group: EventLoopGroup, outboundPort: Int) throws {
        self.group = group
        address = try SocketAddress(ipAddress: "127.0.0.1", port: outboundPort)
    }

    func takeWindow() -> Window {
        state.withLockedValue { state in
            defer { state.window = Window() }
            return state.window
        }
    }

    var totals: Totals {
        state.withLockedValue { $0.totals }
    }

    func root(ofTrace traceID: String) -> RootCall? {
        state.withLockedValue { $0.roots[traceID] }
    }

    /// Drives traffic until `deadline` or cancellation.
    func run(until deadline: NIODeadline) async {
        await withTaskGroup(of: Void.self) { tasks in
            for caller in 0..<Self.concurrency {
                tasks.addTask { await self.caller(caller, until: deadline) }
            }
        }
    }

    private func caller(_ index: Int, until deadline: NIODeadline) async {
        let eventLoop = group.next()
        let payments = SimpleHTTPClient(eventLoop: eventLoop, address: address, hostHeader: "payments")
        let ledger = SimpleHTTPClient(eventLoop: eventLoop, address: address, hostHeader: "ledger")
        var sequence = 0
        while !Task.isCancelled, NIODeadline.now() < deadline {
            sequence += 1
            let started = NIODeadline.now()
            let toLedger = sequence % 5 == 0
            await call(
                client: toLedger ? ledger : payments, on: eventLoop,
                target: toLedger ? "ledger" : "payments",
                method: toLedger ? .POST : .GET,
                path: toLedger ? "/ledger/entries" : "/charge?order=\(index)-\(sequence)",
                body: toLedger ? ByteBuffer(string: "{\"order\":\"\(index)-\(sequence)\",\"amount\":42}") : nil)
            let remaining = (started + Self.pacing) - NIODeadline.now()
            if remaining > .zero {
                try? await Task.sleep(nanoseconds: UInt64(remaining.nanoseconds))
            }
        }
        try? await eventLoop.submit {
            payments.close()
            ledger.close()
        }.get()
    }

    private func call(client: SimpleHTTPClient, on eventLoop: EventLoop, target: String, method: HTTPMethod, path: String, body: ByteBuffer?) async {
        let traceID = Self.hex(UInt64.random(in: 1...UInt64.max)) + Self.hex(UInt64.random(in: 1...UInt64.max))
        let spanID = Self.hex(UInt64.random(in: 1...UInt64.max))
        var headers = HTTPHeaders()
        headers.add(name: "traceparent", value: "00-\(traceID)-\(spanID)-01")
        if body != nil { headers.add(name: "content-type", value: "application/json") }
        let startUnix = UInt64(Date().timeIntervalSince1970 * 1e9)
        let start = NIODeadline.now()
        var status = 0
        var failure: String?
        do {
            let response = try await eventLoop.flatSubmit {
                client.execute(method: method, path: path, headers: headers, body: body, timeout: .seconds(5))
            }.get()
            status = response.status
            if status != 200 {
                failure = response.headers.first(name: "x-sidecar-error").map { "\(status) \($0)" } ?? "\(status) from the app"
            }
        } catch {
            failure = "client error: \(error)"
        }
        let elapsed = NIODeadline.now() - start
        let latencyMs = Double(elapsed.nanoseconds) / 1e6
        let ok = status == 200
        state.withLockedValue { state in
            state.window.requests += 1
            state.totals.requests += 1
            if ok {
                state.window.ok += 1
                state.totals.ok += 1
            }
            state.window.latenciesMs.append(latencyMs)
            if state.totals.latenciesMs.count < Self.maxKept { state.totals.latenciesMs.append(latencyMs) }
            if target == "ledger" {
                state.window.ledgerRequests += 1
                state.totals.ledgerRequests += 1
                if ok {
                    state.window.ledgerOK += 1
                    state.totals.ledgerOK += 1
                }
            }
            if let failure { state.totals.failures[failure, default: 0] += 1 }
            if state.roots.count < Self.maxKept {
                state.roots[traceID] = RootCall(
                    spanID: spanID, target: target, method: "\(method)", path: path, status: status,
                    startUnixNanos: startUnix, durationNanos: elapsed.nanoseconds)
            }
        }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The `q` quantile (0...1) of `values`, nil when empty.
    static func quantile(_ values: [Double], _ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let index = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[index]
    }
}

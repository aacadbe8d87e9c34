import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// `sidecar demo` (foundation stage): one sidecar on an embedded default config in front of a
/// built-in backend, with traffic driven through its outbound listener and a live line per second.
public enum DemoRunner {
    /// The embedded default config; `@BACKEND@` is replaced by the backend's address.
    static let embeddedConfig = """
        service: demo
        admin:
          listen: 127.0.0.1:0
        drainTimeout: 2s
        outbound:
          - name: egress
            listen: 127.0.0.1:0
            routes:
              - host: backend
                cluster: backend
              - cluster: backend
        inbound:
          - name: public
            listen: 127.0.0.1:0
            tls: disabled
            forwardTo: @BACKEND@
        clusters:
          - name: backend
            tls: { mode: disabled }
            endpoints:
              - { address: @BACKEND@, weight: 1 }
            retries: { maxRetries: 2, retryOn: [connect-failure, reset, gateway-error] }
        accessLog: { path: off }
        """

    public static func run(duration: TimeAmount) async -> Int32 {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let code = await run(duration: duration, group: group)
        try? await group.shutdownGracefully()
        return code
    }

    private static func run(duration: TimeAmount, group: EventLoopGroup) async -> Int32 {
        do {
            let backend = try await DemoBackend.start(name: "backend", group: group)
            guard let backendPort = backend.localAddress?.port else { return 2 }
            let yaml = embeddedConfig.replacingOccurrences(of: "@BACKEND@", with: "127.0.0.1:\(backendPort)")
            let config = try SidecarConfig.parse(yaml: yaml)
            let runtime = try SidecarRuntime(config: config, workerCount: 1, logger: Logger(label: "sidecar-demo"))
            try await runtime.start()
            guard let egress = runtime.boundAddresses.first(where: { $0.name == "outbound/egress" })?.address else { return 2 }
            print("sidecar demo: backend on 127.0.0.1:\(backendPort), sidecar outbound listener on \(SidecarProcess.describe(egress))")
            print("sidecar demo: embedded config:\n" + yaml.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            let stats = try await driveTraffic(to: egress, group: group, duration: duration)
            print(String(format: "sidecar demo: %d requests, %d ok, %.0f requests/s through the sidecar", stats.total, stats.ok, Double(stats.total) / (Double(duration.nanoseconds) / 1e9)))
            if let sample = stats.sample {
                print("sidecar demo: the backend saw: \(sample)", terminator: "")
            }
            runtime.drain()
            await runtime.waitUntilStopped()
            await runtime.shutdown()
            try? await backend.close()
            return stats.ok == stats.total && stats.total > 0 ? 0 : 1
        } catch {
            print("sidecar demo: \(error)")
            return 2
        }
    }

    struct TrafficStats {
        var total = 0
        var ok = 0
        var sample: String?
    }

    private static func driveTraffic(to address: SocketAddress, group: EventLoopGroup, duration: TimeAmount) async throws -> TrafficStats {
        let eventLoop = group.any()
        // The client is loop-bound: it is only used inside closures that run on `eventLoop`.
        let client = SimpleHTTPClient(eventLoop: eventLoop, address: address, hostHeader: "backend")
        var stats = TrafficStats()
        let end = NIODeadline.now() + duration
        var nextReport = NIODeadline.now() + .seconds(1)
        var windowCount = 0
        while NIODeadline.now() < end {
            let response = try await eventLoop.flatSubmit {
                client.execute(method: .GET, path: "/hello", timeout: .seconds(2))
            }.get()
            stats.total += 1
            windowCount += 1
            if response.status == 200 {
                stats.ok += 1
                if stats.sample == nil { stats.sample = String(buffer: response.body) }
            }
            if NIODeadline.now() >= nextReport {
                print("sidecar demo: \(windowCount) requests/s, \(stats.ok)/\(stats.total) ok so far")
                windowCount = 0
                nextReport = nextReport + .seconds(1)
            }
        }
        try await eventLoop.submit { client.close() }.get()
        return stats
    }
}

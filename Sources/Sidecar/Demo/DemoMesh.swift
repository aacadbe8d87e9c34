import Foundation
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The demo mesh's files and processes: a temp directory with a mesh CA and one certificate per
/// service (`MeshCertificateAuthority`, as `sidecar certs` makes them), one config file per
/// sidecar, and one `sidecar run --config ...` child process per sidecar (the same executable as
/// the demo). Everything listens on 127.0.0.1, on ports picked free just before the configs are
/// written. The directory is kept after the demo so a sidecar can be run again by hand.
final class DemoMesh: Sendable {
    /// One sidecar of the mesh.
    struct Member: Sendable {
        /// `frontend`, `payments-1`…`payments-3`, `ledger`: config, log and display name.
        var name: String
        /// The config's `service` (replicas share `payments`, and its identity).
        var service: String
        var adminPort: Int
        /// The outbound listener (frontend) or the inbound listener (the others).
        var listenPort: Int
        /// The local app's port (inbound sidecars).
        var appPort: Int?
        var configPath: String
        var logPath: String
    }

    static let trustDomain = "mesh.local"
    static let replicaCount = 3

    let directory: String
    let members: [Member]
    let collectorPort: Int
    private let children = NIOLockedValueBox<[DemoChildProcess]>([])

    static func spiffeID(_ service: String) -> String {
        "spiffe://\(trustDomain)/ns/default/sa/\(service)"
    }

    /// A new directory `$TMPDIR/sidecar-demo-XXXXXX` (mode 0700).
    static func makeDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/sidecar-demo-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw DemoChildProcess.SpawnError(description: "cannot create a temp directory in \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// Picks the ports, issues the certificates and writes every config. `appPorts` maps member
    /// names (`payments-1`…, `ledger`) to their local app's port.
    init(directory: String, collectorPort: Int, appPorts: [String: Int]) throws {
        self.directory = directory
        self.collectorPort = collectorPort
        let certs = directory + "/certs"
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        try MeshCertificateAuthority.initialize(directory: certs, trustDomain: Self.trustDomain)
        for service in ["frontend", "payments", "ledger"] {
            try MeshCertificateAuthority.issue(directory: certs, name: service, days: 7)
        }
        let names = ["frontend"] + (1...Self.replicaCount).map { "payments-\($0)" } + ["ledger"]
        var ports = try Self.freePorts(count: names.count * 2)
        var members: [Member] = []
        for name in names {
            let service = name.hasPrefix("payments") ? "payments" : name
            members.append(Member(
                name: name, service: service,
                adminPort: ports.removeFirst(), listenPort: ports.removeFirst(),
                appPort: appPorts[name],
                configPath: "\(directory)/\(name).yaml", logPath: "\(directory)/logs/\(name).log"))
        }
        self.members = members
        for member in members {
            try config(for: member).write(toFile: member.configPath, atomically: true, encoding: .utf8)
        }
    }

    var frontend: Member { members[0] }
    var replicas: [Member] { members.filter { $0.service == "payments" } }
    var ledger: Member { members[members.count - 1] }

    /// The member whose listener is on `port` (trace `server.port` of SERVER spans).
    func member(listeningOn port: Int) -> Member? {
        members.first { $0.listenPort == port }
    }

    // MARK: - Configs

    private func identityBlock(_ service: String) -> String {
        """
        identity:
          certificate: \(directory)/certs/\(service).pem
          privateKey: \(directory)/certs/\(service)-key.pem
          trustBundle: \(directory)/certs/ca.pem
        """
    }

    private var tracingBlock: String {
        """
        tracing:
          sampleRate: 1.0
          otlp: { endpoint: "http://127.0.0.1:\(collectorPort)/v1/traces", flushInterval: 200ms }
        accessLog: { path: stdout }
        """
    }

    /// The payments endpoints the frontend's config file starts with (the control plane adds the third).
    var initialReplicaCount: Int { 2 }

    private func config(for member: Member) -> String {
        if member.name == "frontend" {
            let endpoints = replicas.prefix(initialReplicaCount)
                .map { "      - { address: \"127.0.0.1:\($0.listenPort)\", weight: 1 }" }
                .joined(separator: "\n")
            return """
                # The frontend's sidecar. The demo's traffic driver is the frontend app: it calls
                # http://127.0.0.1:\(member.listenPort) with Host: payments or Host: ledger. This sidecar
                # originates mTLS to the payments replicas (HTTP/1.1) and to ledger (HTTP/2, picked by ALPN), checks
                # their SPIFFE IDs, retries, ejects outliers and balances by least requests (the slow replica holds its requests longer, so it gets fewer).
                # The demo's control plane replaces the payments endpoint list over the admin API.
                service: frontend
                \(identityBlock("frontend"))
                admin:
                  listen: 127.0.0.1:\(member.adminPort)
                drainTimeout: 2s
                outbound:
                  - name: egress
                    listen: 127.0.0.1:\(member.listenPort)
                    routes:
                      - host: payments
                        cluster: payments
                      - host: ledger
                        cluster: ledger
                clusters:
                  - name: payments
                    protocol: http1
                    tls:
                      mode: mutual
                      serverName: payments
                      expectIdentity: [\(Self.spiffeID("payments"))]
                    endpoints:
                \(endpoints)
                    loadBalancing: { policy: least_request }
                    timeouts: { connect: 1s, request: 5s }
                    retries:
                      maxRetries: 2
                      retryOn: [5xx, connect-failure, reset]
                      backoff: { base: 5ms, max: 50ms }
                      budget: { ratio: 0.2, minRetriesPerSecond: 5 }
                    outlierDetection: { consecutive5xx: 3, consecutiveGatewayErrors: 3, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 34 }
                  - name: ledger
                    protocol: auto
                    tls:
                      mode: mutual
                      serverName: ledger
                      expectIdentity: [\(Self.spiffeID("ledger"))]
                    endpoints:
                      - { address: "127.0.0.1:\(ledger.listenPort)", weight: 1 }
                    timeouts: { connect: 1s, request: 5s }
                    retries: { maxRetries: 2, retryOn: [connect-failure, reset, refused-stream] }
                \(tracingBlock)

                """
        }
        let role = member.service == "ledger"
            ? "picks HTTP/2 by ALPN with the frontend's sidecar, and calls its app over HTTP/1.1"
            : "one of \(Self.replicaCount) payments replicas"
        return """
            # \(member.name)'s inbound sidecar (\(role)): terminates mTLS on
            # 127.0.0.1:\(member.listenPort), lets only the frontend in, forwards to its app on
            # 127.0.0.1:\(member.appPort ?? 0) (the app lived in the demo process).
            service: \(member.service)
            \(identityBlock(member.service))
            admin:
              listen: 127.0.0.1:\(member.adminPort)
            drainTimeout: 2s
            inbound:
              - name: public
                listen: 127.0.0.1:\(member.listenPort)
                tls: mutual
                forwardTo: 127.0.0.1:\(member.appPort ?? 0)
                protocol: http1
                allow: [\(Self.spiffeID("frontend"))]
            \(tracingBlock)

            """
    }

    // MARK: - Processes

    /// The running executable's absolute path (the demo starts the same binary as `sidecar run`).
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            buffer[length] = 0
            return String(cString: buffer)
        }
        let argument0 = CommandLine.arguments[0]
        if argument0.hasPrefix("/") { return argument0 }
        return FileManager.default.currentDirectoryPath + "/" + argument0
    }

    /// Starts one `sidecar run` per member, one event loop each (the demo shares the machine).
    func start() throws {
        let executable = Self.executablePath()
        var environment = ProcessInfo.processInfo.environment
        environment["SIDECAR_PARENT_PID"] = String(getpid())
        environment.removeValue(forKey: "SIDECAR_CONFIG")
        for member in members {
            let child = try DemoChildProcess.spawn(
                name: member.name, executable: executable,
                arguments: ["run", "--config", member.configPath, "--workers", "1", "--log-level", "warning"],
                logPath: member.logPath, environment: environment)
            children.withLockedValue { $0.append(child) }
        }
    }

    var processes: [DemoChildProcess] {
        children.withLockedValue { $0 }
    }

    /// A child that has exited (and how), if any.
    func exitedChild() -> (DemoChildProcess, String)? {
        for child in processes {
            if let status = child.exited() { return (child, status) }
        }
        return nil
    }

    /// SIGTERM to every child (they drain, `drainTimeout` 2s), SIGKILL to any left after
    /// `grace`; returns once every child is reaped. Safe to call more than once.
    func stop(grace: TimeAmount = .seconds(4)) async {
        let all = processes
        for child in all { child.send(SIGTERM) }
        let deadline = NIODeadline.now() + grace
        while all.contains(where: { $0.exited() == nil }) && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        killAll()
    }

    /// SIGKILL to every child still running, then reaps them (blocking, briefly).
    func killAll() {
        for child in processes where child.exited() == nil {
            child.send(SIGKILL)
            var spins = 0
            while child.exited() == nil && spins < 500 {
                usleep(2_000)
                spins += 1
            }
        }
    }

    // MARK: - Ports

    /// `count` distinct free loopback ports: all are bound at once (so none repeats), then released.
    static func freePorts(count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw DemoChildProcess.SpawnError(description: "socket(): \(String(cString: strerror(errno)))") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
                }
            }
            guard bound else { throw DemoChildProcess.SpawnError(description: "cannot bind a loopback port: \(String(cString: strerror(errno)))") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}

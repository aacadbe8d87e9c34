import ArgumentParser
import Foundation
import Logging
import Sidecar

/// The `sidecar` command (CONTRACT section 1). Exit codes: 0 ok, 1 bad config or usage,
/// 2 runtime failure at start.
struct SidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar",
        abstract: "A service-mesh sidecar proxy: mutual TLS, retries, timeouts, circuit breaking, load balancing and traces.",
        subcommands: [Run.self, Validate.self, Certs.self, Demo.self, Version.self]
    )
}

enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, warning, error

    var level: Logger.Level {
        switch self {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .warning: return .warning
        case .error: return .error
        }
    }
}

/// Reads `--config`, falling back to `SIDECAR_CONFIG`; a usage error (exit 1) when neither is set.
func configPath(_ option: String?) throws -> String {
    if let option { return option }
    if let env = ProcessInfo.processInfo.environment["SIDECAR_CONFIG"], !env.isEmpty { return env }
    throw ValidationError("--config FILE is required (or set SIDECAR_CONFIG)")
}

/// Loads and validates the config file, printing every problem as `PATH: message` (exit 1).
func loadConfig(_ path: String) throws -> SidecarConfig {
    do {
        return try SidecarConfig.load(path: path)
    } catch {
        for problem in error.problems {
            FileHandle.standardError.write(Data("\(problem)\n".utf8))
        }
        throw ExitCode(1)
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy until SIGTERM/SIGINT (graceful drain, exit 0).")

    @Option(name: .long, help: "The config file (YAML or JSON); or set SIDECAR_CONFIG.")
    var config: String?

    @Option(name: .long, help: "trace | debug | info | warning | error")
    var logLevel: LogLevelOption = .info

    @Option(name: .long, help: "Event-loop threads (default: number of cores).")
    var workers: Int?

    func validate() throws {
        if let workers, workers < 1 || workers > 256 {
            throw ValidationError("--workers must be from 1 to 256")
        }
    }

    func run() async throws {
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let config = try loadConfig(try configPath(self.config))
        let logger = Logger(label: "sidecar")
        if !TLSRecordBufferCache.isInstalled {
            // Something made OpenSSL allocate before `main` could hand it the functions: correct,
            // only ~700 instructions a request slower on each TLS hop.
            logger.notice("OpenSSL record buffers are not cached: OpenSSL allocated before the cache could be installed")
        }
        let code = await SidecarProcess.run(
            config: config,
            workers: workers ?? ProcessInfo.processInfo.activeProcessorCount,
            logger: logger
        )
        if code != 0 { throw ExitCode(code) }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a config file: a summary when valid (exit 0), every problem when not (exit 1).")

    @Option(name: .long, help: "The config file (YAML or JSON); or set SIDECAR_CONFIG.")
    var config: String?

    func run() throws {
        let config = try loadConfig(try configPath(self.config))
        print(config.summary)
    }
}

struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a mesh CA and workload certificates (EC P-256, SPIFFE URI SANs).",
        subcommands: [CertsInit.self, CertsIssue.self]
    )
}

struct CertsInit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Make a mesh root CA (ca.pem, ca-key.pem) in DIR.")

    @Option(name: .long, help: "Directory for ca.pem and ca-key.pem (created when missing).")
    var dir: String

    @Option(name: .long, help: "The mesh's SPIFFE trust domain.")
    var trustDomain: String = "mesh.local"

    func run() throws {
        do {
            let files = try MeshCertificateAuthority.initialize(directory: dir, trustDomain: trustDomain)
            print("wrote \(files.certificatePath) and \(files.privateKeyPath) (trust domain \(files.trustDomain))")
        } catch {
            FileHandle.standardError.write(Data("sidecar certs init: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct CertsIssue: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue", abstract: "Issue NAME.pem (leaf + chain) and NAME-key.pem signed by DIR's CA.")

    @Option(name: .long, help: "Directory holding ca.pem and ca-key.pem.")
    var dir: String

    @Option(name: .long, help: "Workload name: file names and DNS SAN.")
    var name: String

    @Option(name: .long, help: "URI SAN (default spiffe://<trust-domain>/ns/default/sa/NAME).")
    var spiffeId: String?

    @Option(name: .long, help: "Validity in days.")
    var days: Int = 365

    func run() throws {
        do {
            let files = try MeshCertificateAuthority.issue(directory: dir, name: name, spiffeID: spiffeId, days: days)
            print("wrote \(files.certificatePath) and \(files.privateKeyPath) for \(files.spiffeID), valid until \(files.notAfter)")
        } catch {
            FileHandle.standardError.write(Data("sidecar certs issue: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a whole mesh on loopback: five sidecars, mTLS, retries, ejection, endpoint pushes, traces.")

    @Option(name: .long, help: "How long to drive traffic, in seconds.")
    var duration: Int = 20

    func validate() throws {
        if duration < 1 || duration > 3600 {
            throw ValidationError("--duration must be from 1 to 3600 seconds")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let code = await DemoRunner.run(duration: .seconds(Int64(duration)))
        if code != 0 { throw ExitCode(code) }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the sidecar, OpenSSL and nghttp2 versions.")

    func run() {
        print("sidecar \(SidecarVersion.string)")
        print("OpenSSL \(SidecarVersion.openSSL)")
        print("nghttp2 \(SidecarVersion.nghttp2)")
    }
}

// Before anything can make OpenSSL allocate (it takes allocation functions only before that).
TLSRecordBufferCache.install()

// Exit codes per the contract: usage errors are 1 (ArgumentParser's default would be 64).
do {
    var command = try SidecarCommand.parseAsRoot()
    switch command {
    case let run as Run: try await run.run()
    case let demo as Demo: try await demo.run()
    case let certsInit as CertsInit: try certsInit.run()
    case let certsIssue as CertsIssue: try certsIssue.run()
    default: try command.run()
    }
} catch let exit as ExitCode {
    Foundation.exit(exit.rawValue)
} catch {
    let code = SidecarCommand.exitCode(for: error)
    if code == .success {
        SidecarCommand.exit(withError: error)
    }
    FileHandle.standardError.write(Data((SidecarCommand.fullMessage(for: error) + "\n").utf8))
    Foundation.exit(code == .validationFailure || code.rawValue == 64 ? 1 : code.rawValue)
}

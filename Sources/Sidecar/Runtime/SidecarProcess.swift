import Logging
import NIOCore
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `sidecar run`: start the runtime, report bound addresses, and serve until SIGTERM/SIGINT or
/// `POST /v1/drain` has drained it. SIGHUP reopens the access log (and, with TLS, reloads the
/// identity). Returns the process exit code (CONTRACT section 1).
public enum SidecarProcess {
    public static func run(config: SidecarConfig, workers: Int, logger: Logger) async -> Int32 {
        let runtime: SidecarRuntime
        do {
            runtime = try SidecarRuntime(config: config, workerCount: workers, logger: logger)
        } catch {
            printError("sidecar: \(error)")
            return 2
        }
        // Trap signals before anything is bound or reported ready: a SIGTERM that arrives as soon
        // as the listeners are up must drain, not kill the process. Signals are buffered until the
        // loop below reads them.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        do {
            try await runtime.start()
        } catch {
            printError("sidecar: \(error)")
            await runtime.shutdown()
            return 2
        }
        for (name, address) in runtime.boundAddresses {
            // One line per listener, so that scripts and tests can find ports bound as 0.
            printError("sidecar: listening \(name) on \(Self.describe(address))")
        }
        logger.info("sidecar ready", metadata: ["service": "\(config.service)", "workers": "\(workers)"])
        // Start-up touched code and constants all over the binary: keep only what the data path uses.
        let released = ResidentCodeTrimmer.trim()
        logger.debug("start-up pages released", metadata: [
            "read_only_kib": "\(released.readOnlyMappings / 1024)", "constant_data_kib": "\(released.constantData / 1024)",
        ])

        let signalTask = Task {
            for await signal in signals {
                switch signal {
                case .sighup:
                    logger.info("SIGHUP: reopening logs, reloading identity")
                    runtime.reload()
                default:
                    logger.info("signal received, draining", metadata: ["signal": "\(signal)"])
                    runtime.drain()
                }
            }
        }
        let parentWatch = watchParent(runtime: runtime, logger: logger)
        let heapTrimmer = Task { await HeapTrimmer.run() }
        await runtime.waitUntilStopped()
        signalTask.cancel()
        parentWatch?.cancel()
        heapTrimmer.cancel()
        await runtime.shutdown()
        logger.info("sidecar stopped")
        return 0
    }

    /// With `SIDECAR_PARENT_PID` set (by `sidecar demo` for its children), drains as soon as that
    /// process is no longer the parent: a sidecar never outlives the demo that started it, even
    /// when the demo is killed without a chance to stop it.
    private static func watchParent(runtime: SidecarRuntime, logger: Logger) -> Task<Void, Never>? {
        guard let raw = getenv("SIDECAR_PARENT_PID"), let parent = pid_t(String(cString: raw)), parent > 1 else { return nil }
        return Task {
            while !Task.isCancelled {
                if getppid() != parent {
                    logger.warning("parent process \(parent) is gone, draining")
                    runtime.drain()
                    return
                }
                try? await Task.sleep(nanoseconds: 250_000_000)
            }
        }
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    static func printError(_ line: String) {
        var text = line
        text.append("\n")
        text.utf8.withContiguousStorageIfAvailable { bytes in
            _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count)
        }
    }
}

import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Keeps the workload identity current: re-reads the files every `reloadInterval` and on SIGHUP,
/// and when they changed and the new set is valid, builds a new `IdentitySnapshot` and hands it to
/// every event loop. An invalid new set keeps the old identity, is logged, and counted.
final class IdentityReloader: Sendable {
    private let config: IdentityConfig
    private let serverALPN: [String]
    private let logger: Logger
    private let metrics: ControlPlaneMetrics
    private let state: NIOLockedValueBox<State>
    /// Called with each new snapshot (the runtime installs it on every worker).
    private let publish: @Sendable (IdentitySnapshot) -> Void

    private struct State {
        var current: IdentitySnapshot
        var task: RepeatedTask?
        var reloads = 0
        var failures = 0
        var lastFailedHash: String?
    }

    /// Loads the identity once; throws a `StartupError` naming the file when it cannot be used.
    init(config: IdentityConfig, serverALPN: [String], metrics: ControlPlaneMetrics, logger: Logger, publish: @escaping @Sendable (IdentitySnapshot) -> Void) throws {
        self.config = config
        self.metrics = metrics
        self.serverALPN = serverALPN
        self.logger = logger
        self.publish = publish
        let snapshot: IdentitySnapshot
        do {
            snapshot = try IdentitySnapshot(identity: TLSIdentity(config: config), serverALPN: serverALPN)
        } catch {
            throw StartupError("identity: \(error)")
        }
        state = NIOLockedValueBox(State(current: snapshot))
    }

    var current: IdentitySnapshot { state.withLockedValue { $0.current } }
    var successfulReloads: Int { state.withLockedValue { $0.reloads } }
    var failedReloads: Int { state.withLockedValue { $0.failures } }

    func start(on eventLoop: EventLoop) {
        let interval = config.reloadInterval
        let task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.reloadIfChanged()
        }
        state.withLockedValue { $0.task = task }
    }

    func stop() {
        state.withLockedValue { $0.task?.cancel() }
    }

    /// Re-reads the files; installs a new identity when they changed and are valid.
    /// Returns true when a new identity was installed.
    @discardableResult
    func reloadIfChanged() -> Bool {
        let (currentHash, lastFailed) = state.withLockedValue { ($0.current.identity.contentHash, $0.lastFailedHash) }
        let hash: String
        do {
            hash = try TLSIdentity.contentHash(of: config)
        } catch {
            recordFailure(hash: nil, error: error)
            return false
        }
        guard hash != currentHash, hash != lastFailed else { return false }
        do {
            let snapshot = try IdentitySnapshot(identity: TLSIdentity(config: config), serverALPN: serverALPN)
            state.withLockedValue {
                $0.current = snapshot
                $0.reloads += 1
                $0.lastFailedHash = nil
            }
            logger.info(
                "identity rotated",
                metadata: ["spiffeID": "\(snapshot.spiffeID)", "serial": "\(snapshot.identity.serialNumberHex)", "notAfter": "\(snapshot.identity.notAfter)"]
            )
            metrics.identityReloads.increment()
            publish(snapshot)
            return true
        } catch {
            recordFailure(hash: hash, error: error)
            return false
        }
    }

    private func recordFailure(hash: String?, error: Error) {
        let isNew = state.withLockedValue { state -> Bool in
            // Files caught mid-write fail once and succeed on the next tick; count each bad set once.
            guard hash == nil || state.lastFailedHash != hash else { return false }
            state.failures += 1
            state.lastFailedHash = hash
            return true
        }
        if isNew {
            metrics.identityReloadFailures.increment()
            logger.error("identity reload failed, keeping the current identity", metadata: ["error": "\(error)"])
        }
    }
}

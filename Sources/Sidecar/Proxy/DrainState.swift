import Synchronization

/// Process-wide drain flag and in-flight request count, read by every event loop without a lock.
final class DrainState: Sendable {
    private let draining = Atomic<Bool>(false)
    private let inFlight = Atomic<Int>(0)

    var isDraining: Bool { draining.load(ordering: .relaxed) }
    var inFlightRequests: Int { inFlight.load(ordering: .relaxed) }

    /// Returns true the first time only.
    func startDraining() -> Bool {
        draining.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    }

    func requestStarted() { inFlight.wrappingAdd(1, ordering: .relaxed) }
    func requestFinished() { inFlight.wrappingSubtract(1, ordering: .relaxed) }
}

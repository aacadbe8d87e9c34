/// What the demo shows once a second: the traffic driver's view, the flaky replica's own view,
/// and the frontend sidecar's view (`/v1/clusters`, `/metrics`).
struct DemoSnapshot: Sendable {
    struct Replica: Sendable {
        var name: String
        var address: String
        /// `healthy` / `ejected` / …, or `not in list` before the control plane adds it.
        var state: String
        var weight: Int
        /// Share of the frontend's attempts in the last interval, 0...1 (nil: no attempts at all).
        var share: Double?
        /// The frontend's attempts to this replica over the whole run.
        var attempts: Int
        var latencyMs: Double
        var ejections: Int
        var note: String
    }

    var elapsedSeconds: Double = 0
    var durationSeconds: Double = 0
    var windowSeconds: Double = 1
    var window = DemoTrafficDriver.Window()
    var totalRequests = 0
    var totalOK = 0
    var flakyRequests = 0
    var flakyFailures = 0
    var replicas: [Replica] = []
    var clusterVersion = 0
    var policy = "?"
    var retries = 0
    var retriesByReason: [String: Int] = [:]
    var budgetExhausted = 0
    var ejections = 0
    var spansReceived = 0

    var requestsPerSecond: Double { Double(window.requests) / max(windowSeconds, 0.001) }
    var windowSuccess: Double? { window.requests == 0 ? nil : Double(window.ok) / Double(window.requests) }
    var totalSuccess: Double? { totalRequests == 0 ? nil : Double(totalOK) / Double(totalRequests) }
    var flakyFailureRate: Double? { flakyRequests == 0 ? nil : Double(flakyFailures) / Double(flakyRequests) }
}

/// One endpoint's active health: healthy until `unhealthyThreshold` consecutive failed checks,
/// healthy again after `healthyThreshold` consecutive good ones. A new endpoint starts healthy,
/// unless its very first check fails (then it is unhealthy at once: it never proved itself).
struct HealthCheckState: Sendable, Equatable {
    let unhealthyThreshold: Int
    let healthyThreshold: Int
    private(set) var isHealthy = true
    private var checks = 0
    private var consecutiveFailures = 0
    private var consecutiveSuccesses = 0

    init(unhealthyThreshold: Int, healthyThreshold: Int) {
        self.unhealthyThreshold = max(1, unhealthyThreshold)
        self.healthyThreshold = max(1, healthyThreshold)
    }

    /// Records a check's result; returns the new health when it changed.
    mutating func record(success: Bool) -> Bool? {
        checks += 1
        let before = isHealthy
        if success {
            consecutiveFailures = 0
            consecutiveSuccesses += 1
            if !isHealthy, consecutiveSuccesses >= healthyThreshold { isHealthy = true }
        } else {
            consecutiveSuccesses = 0
            consecutiveFailures += 1
            if isHealthy, checks == 1 || consecutiveFailures >= unhealthyThreshold { isHealthy = false }
        }
        return isHealthy != before ? isHealthy : nil
    }
}

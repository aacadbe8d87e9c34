/// The ranges the validator enforces, for reuse by code that accepts the same values at run
/// time (for example endpoint lists pushed over the admin API).
public enum ConfigBounds {
    /// Listener ports; 0 asks the kernel for an ephemeral port.
    public static let listenPort: ClosedRange<Int> = 0...65535
    /// Ports that are connected to (`forwardTo`, endpoints, OTLP).
    public static let connectPort: ClosedRange<Int> = 1...65535
    /// `endpoints[].weight`.
    public static let endpointWeight: ClosedRange<Int> = 1...1000
    /// `retries.maxRetries`.
    public static let maxRetries: ClosedRange<Int> = 0...10
    /// `retries.retriableStatusCodes[]`.
    public static let statusCode: ClosedRange<Int> = 100...599
    /// `retries.budget.ratio`: with at most 10 retries per request a larger ratio never limits.
    public static let budgetRatio: ClosedRange<Double> = 0...10
    /// `retries.budget.minRetriesPerSecond`.
    public static let minRetriesPerSecond: ClosedRange<Int> = 0...100_000
    /// `retries.maxBufferedBody` (0: requests with a body are never retried).
    public static let maxBufferedBody: ClosedRange<Int> = 0...(256 << 20)
    /// `circuitBreaker.maxConnections` and `maxRequests`.
    public static let circuitBreakerLimit: ClosedRange<Int> = 1...1_000_000
    /// `circuitBreaker.maxPendingRequests` and `maxRetries` (0: none allowed).
    public static let circuitBreakerQueue: ClosedRange<Int> = 0...1_000_000
    /// `outlierDetection.consecutive5xx` / `consecutiveGatewayErrors`, health-check thresholds.
    public static let threshold: ClosedRange<Int> = 1...1000
    /// `outlierDetection.maxEjectionPercent`.
    public static let percent: ClosedRange<Int> = 0...100
    /// `tracing.sampleRate`.
    public static let sampleRate: ClosedRange<Double> = 0...1
    /// `tracing.otlp.batchSize`.
    public static let batchSize: ClosedRange<Int> = 1...100_000
    /// `tracing.otlp.maxQueue` (and at least `batchSize`).
    public static let maxQueue: ClosedRange<Int> = 1...10_000_000
    /// `limits.maxHeaderBytes`.
    public static let maxHeaderBytes: ClosedRange<Int> = 1024...(8 << 20)
    /// `limits.maxHeaderCount`.
    public static let maxHeaderCount: ClosedRange<Int> = 1...10_000
    /// `limits.maxUriBytes`.
    public static let maxUriBytes: ClosedRange<Int> = 64...(1 << 20)
    /// Listener and cluster names: 1...128 characters out of letters, digits, `.`, `_`, `-`
    /// (they appear in metrics labels and in admin URLs).
    public static let nameLength: ClosedRange<Int> = 1...128
}

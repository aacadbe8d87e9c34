import NIOHTTP1

/// How an upstream attempt ended, as far as the retry decision cares.
enum AttemptOutcome: Equatable {
    case connectFailure
    case reset
    case refusedStream
    case perTryTimeout
    /// A response head arrived; `grpcStatus` when the gRPC status is known at that point.
    case response(status: Int, grpcStatus: Int?)
}

/// A cluster's `retries` section compiled for the data path: which outcomes are retriable.
/// A value type with no clock or state, so it is tested by plain calls.
struct RetryPolicy: Sendable {
    let maxRetries: Int
    private let conditions: Set<RetryCondition>
    private let retriableStatusCodes: Set<Int>
    private let retriableGRPCStatuses: Set<Int>
    /// No response status below this is retriable (without a gRPC status): most responses are
    /// decided by one comparison.
    let lowestRetriableStatus: Int

    init(_ config: RetryPolicyConfig) {
        maxRetries = config.maxRetries
        conditions = Set(config.retryOn)
        retriableStatusCodes = Set(config.retriableStatusCodes)
        var lowest = Int.max
        if conditions.contains(.serverError) { lowest = 500 }
        if conditions.contains(.gatewayError) { lowest = min(lowest, 502) }
        if conditions.contains(.retriableStatusCodes), let code = retriableStatusCodes.min() { lowest = min(lowest, code) }
        lowestRetriableStatus = lowest
        var grpc: Set<Int> = []
        if conditions.contains(.grpcCancelled) { grpc.insert(1) }
        if conditions.contains(.grpcDeadlineExceeded) { grpc.insert(4) }
        if conditions.contains(.grpcResourceExhausted) { grpc.insert(8) }
        if conditions.contains(.grpcInternal) { grpc.insert(13) }
        if conditions.contains(.grpcUnavailable) { grpc.insert(14) }
        retriableGRPCStatuses = grpc
    }

    static let none = RetryPolicy({
        var config = RetryPolicyConfig()
        config.maxRetries = 0
        config.retryOn = []
        return config
    }())

    /// True when any gRPC status is retriable (the proxy then holds gRPC responses until the status is known).
    var retriesOnGRPCStatus: Bool { !retriableGRPCStatuses.isEmpty }

    /// The `reason` label of `sidecar_upstream_retries_total` when `outcome` is retriable, else nil.
    func retryReason(for outcome: AttemptOutcome) -> String? {
        switch outcome {
        case .connectFailure:
            return conditions.contains(.connectFailure) ? "connect-failure" : nil
        case .reset:
            return conditions.contains(.reset) ? "reset" : nil
        case .refusedStream:
            return conditions.contains(.refusedStream) || conditions.contains(.reset) ? "refused-stream" : nil
        case .perTryTimeout:
            return "per-try-timeout"
        case .response(let status, let grpcStatus):
            if grpcStatus == nil, status < lowestRetriableStatus { return nil }
            if let grpcStatus, retriableGRPCStatuses.contains(grpcStatus) { return "grpc-status" }
            if conditions.contains(.serverError), status >= 500 { return "5xx" }
            if conditions.contains(.gatewayError), status == 502 || status == 503 || status == 504 { return "gateway-error" }
            if conditions.contains(.retriableStatusCodes), retriableStatusCodes.contains(status) { return "status-code" }
            return nil
        }
    }
}

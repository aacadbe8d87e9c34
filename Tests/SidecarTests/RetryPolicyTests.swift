import XCTest
@testable import Sidecar

final class RetryPolicyTests: XCTestCase {
    private func policy(_ conditions: [RetryCondition], codes: [Int] = [503]) -> RetryPolicy {
        var config = RetryPolicyConfig()
        config.retryOn = conditions
        config.retriableStatusCodes = codes
        return RetryPolicy(config)
    }

    func testDefaultConditions() {
        let defaults = RetryPolicy(RetryPolicyConfig())
        XCTAssertEqual(defaults.retryReason(for: .connectFailure), "connect-failure")
        XCTAssertEqual(defaults.retryReason(for: .reset), "reset")
        XCTAssertEqual(defaults.retryReason(for: .refusedStream), "refused-stream")
        XCTAssertEqual(defaults.retryReason(for: .response(status: 503, grpcStatus: nil)), "gateway-error")
        XCTAssertNil(defaults.retryReason(for: .response(status: 500, grpcStatus: nil)), "500 is not a gateway error")
        XCTAssertNil(defaults.retryReason(for: .response(status: 200, grpcStatus: nil)))
    }

    func testStatusConditions() {
        XCTAssertEqual(policy([.serverError]).retryReason(for: .response(status: 500, grpcStatus: nil)), "5xx")
        XCTAssertNil(policy([.serverError]).retryReason(for: .response(status: 429, grpcStatus: nil)))
        XCTAssertEqual(policy([.retriableStatusCodes], codes: [429]).retryReason(for: .response(status: 429, grpcStatus: nil)), "status-code")
        XCTAssertNil(policy([.connectFailure]).retryReason(for: .response(status: 503, grpcStatus: nil)))
        XCTAssertNil(policy([.serverError]).retryReason(for: .connectFailure))
    }

    func testGRPCConditions() {
        let unavailable = policy([.grpcUnavailable])
        XCTAssertTrue(unavailable.retriesOnGRPCStatus)
        XCTAssertEqual(unavailable.retryReason(for: .response(status: 200, grpcStatus: 14)), "grpc-status")
        XCTAssertNil(unavailable.retryReason(for: .response(status: 200, grpcStatus: 13)))
        XCTAssertEqual(policy([.grpcInternal, .grpcResourceExhausted]).retryReason(for: .response(status: 200, grpcStatus: 8)), "grpc-status")
        XCTAssertFalse(policy([.serverError]).retriesOnGRPCStatus)
    }
}

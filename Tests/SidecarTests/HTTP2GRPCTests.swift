import NIOCore
import XCTest

@testable import Sidecar

final class HTTP2GRPCTests: XCTestCase {
    func testGRPCTimeoutParsing() {
        XCTAssertEqual(GRPCTimeout.parse("1H"), .hours(1))
        XCTAssertEqual(GRPCTimeout.parse("2M"), .minutes(2))
        XCTAssertEqual(GRPCTimeout.parse("30S"), .seconds(30))
        XCTAssertEqual(GRPCTimeout.parse("500m"), .milliseconds(500))
        XCTAssertEqual(GRPCTimeout.parse("250u"), .microseconds(250))
        XCTAssertEqual(GRPCTimeout.parse("99999999n"), .nanoseconds(99_999_999))
        XCTAssertEqual(GRPCTimeout.parse("0m"), .zero)
        for invalid in ["", "m", "10", "123456789S", "1.5S", "-1S", "10s", "10 S", "1x"] {
            XCTAssertNil(GRPCTimeout.parse(invalid), invalid)
        }
    }

    func testGRPCTimeoutFormattingUsesFinestUnitThatFits() {
        XCTAssertEqual(GRPCTimeout.format(.nanoseconds(999)), "999n")
        XCTAssertEqual(GRPCTimeout.format(.milliseconds(50)), "50000000n")
        XCTAssertEqual(GRPCTimeout.format(.milliseconds(500)), "500000u")
        XCTAssertEqual(GRPCTimeout.format(.seconds(30)), "30000000u")
        XCTAssertEqual(GRPCTimeout.format(.seconds(300)), "300000m")
        XCTAssertEqual(GRPCTimeout.format(.hours(30)), "108000S")
        XCTAssertEqual(GRPCTimeout.format(.hours(100_000)), "6000000M")
        XCTAssertEqual(GRPCTimeout.format(.zero), "1n", "a passed deadline is the smallest timeout")
        XCTAssertEqual(GRPCTimeout.format(.milliseconds(-5)), "1n")
        for amount: TimeAmount in [.milliseconds(1234), .seconds(7), .microseconds(3)] {
            let text = GRPCTimeout.format(amount)
            XCTAssertLessThanOrEqual(text.count, 9)
            XCTAssertEqual(GRPCTimeout.parse(text), amount, text)
        }
    }

    func testSidecarMadeGRPCResponsesAreTrailersOnlyShaped() {
        let cases: [(ProxyErrorFlag, String)] = [
            (.noHealthyUpstream, "14"), (.upstreamConnectFailure, "14"), (.upstreamOverflow, "14"), (.draining, "14"),
            (.upstreamTimeout, "4"), (.upstreamPerTryTimeout, "4"), (.forbidden, "7"), (.upstreamReset, "13"), (.noRoute, "13"),
        ]
        for (flag, status) in cases {
            let response = LocalResponse(flag: flag, grpc: true, requestID: "r")
            XCTAssertEqual(response.head.status.code, 200, flag.rawValue)
            XCTAssertEqual(response.head.fields.headers["grpc-status"], [status], flag.rawValue)
            XCTAssertEqual(response.head.fields.headers["x-sidecar-error"], [flag.rawValue])
            XCTAssertFalse(response.head.fields.headers["grpc-message"].isEmpty)
            XCTAssertEqual(response.body.readableBytes, 0, "no body: HTTP/2 sends one HEADERS frame with END_STREAM")
        }
    }

    func testRetryPolicyKnowsWhenToHoldGRPCResponses() {
        var config = RetryPolicyConfig()
        config.retryOn = [.grpcUnavailable]
        let policy = RetryPolicy(config)
        XCTAssertTrue(policy.retriesOnGRPCStatus)
        XCTAssertEqual(policy.retryReason(for: .response(status: 200, grpcStatus: 14)), "grpc-status")
        XCTAssertNil(policy.retryReason(for: .response(status: 200, grpcStatus: 0)))
        XCTAssertNil(policy.retryReason(for: .response(status: 200, grpcStatus: nil)))
        config.retryOn = [.gatewayError]
        XCTAssertFalse(RetryPolicy(config).retriesOnGRPCStatus)
    }

    func testFloodGuardSlidingWindow() {
        var guardState = HTTP2FloodGuard(maxResets: 5, windowSeconds: 10, maxEmptyData: 3)
        let second: Int64 = 1_000_000_000
        for index in 0..<5 {
            XCTAssertEqual(guardState.recordReset(nowNanoseconds: 100 * second + Int64(index) * second), .ok)
        }
        XCTAssertEqual(guardState.recordReset(nowNanoseconds: 104 * second), .rapidReset, "six resets in the window")
        // Twenty seconds later the window is empty again.
        var later = HTTP2FloodGuard(maxResets: 5, windowSeconds: 10, maxEmptyData: 3)
        for index in 0..<5 { _ = later.recordReset(nowNanoseconds: 100 * second + Int64(index) * second) }
        XCTAssertEqual(later.recordReset(nowNanoseconds: 120 * second), .ok)
        XCTAssertEqual(later.resets(nowNanoseconds: 120 * second), 1)
        XCTAssertEqual(guardState.recordEmptyData(), .ok)
        XCTAssertEqual(guardState.recordEmptyData(), .ok)
        XCTAssertEqual(guardState.recordEmptyData(), .ok)
        XCTAssertEqual(guardState.recordEmptyData(), .emptyDataFlood)
    }

    func testPrefaceSniffing() {
        func check(_ text: String) -> Bool? { HTTP2Preface.matches(ByteBuffer(string: text)) }
        XCTAssertEqual(check("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), true)
        XCTAssertEqual(check("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u{0}\u{0}"), true)
        XCTAssertNil(check("PRI * HTTP/2"))
        XCTAssertEqual(check("GET / HTTP/1.1\r\n"), false)
        XCTAssertEqual(check("POST / HTTP/1.1\r\n"), false)
        XCTAssertEqual(check("PUT"), false)
    }
}

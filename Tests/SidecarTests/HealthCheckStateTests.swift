import XCTest
@testable import Sidecar

final class HealthCheckStateTests: XCTestCase {
    func testUnhealthyAfterThresholdAndBackAfterHealthyThreshold() {
        var state = HealthCheckState(unhealthyThreshold: 3, healthyThreshold: 2)
        XCTAssertNil(state.record(success: true))
        XCTAssertNil(state.record(success: false))
        XCTAssertNil(state.record(success: false))
        XCTAssertEqual(state.record(success: false), false, "third consecutive failure")
        XCTAssertNil(state.record(success: true))
        XCTAssertEqual(state.record(success: true), true, "second consecutive success")
        XCTAssertTrue(state.isHealthy)
    }

    func testFailureStreakIsBrokenBySuccess() {
        var state = HealthCheckState(unhealthyThreshold: 2, healthyThreshold: 1)
        _ = state.record(success: true)
        _ = state.record(success: false)
        _ = state.record(success: true)
        XCTAssertNil(state.record(success: false))
        XCTAssertTrue(state.isHealthy)
    }

    func testNewEndpointWhoseFirstCheckFailsIsUnhealthyAtOnce() {
        var state = HealthCheckState(unhealthyThreshold: 3, healthyThreshold: 2)
        XCTAssertTrue(state.isHealthy, "new endpoints start healthy")
        XCTAssertEqual(state.record(success: false), false)
    }
}

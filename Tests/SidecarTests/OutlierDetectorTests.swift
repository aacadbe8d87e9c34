import NIOCore
import XCTest
@testable import Sidecar

final class OutlierDetectorTests: XCTestCase {
    private func endpoints(_ count: Int) -> [Endpoint] {
        (0..<count).map { Endpoint(address: SocketAddressSpec(host: "127.0.0.1", port: 9000 + $0), weight: 1) }
    }

    private func detector(consecutive5xx: Int = 5, gateway: Int = 3, percent: Int = 50) -> OutlierDetector {
        var config = OutlierDetectionConfig()
        config.consecutive5xx = consecutive5xx
        config.consecutiveGatewayErrors = gateway
        config.baseEjectionTime = .seconds(30)
        config.maxEjectionPercent = percent
        return OutlierDetector(config: config)
    }

    func testEjectsOnTheThresholdAndNotBefore() {
        let all = endpoints(4)
        let detector = detector()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for _ in 0..<4 { XCTAssertFalse(detector.record(.serverError, endpoint: all[0], endpoints: all, now: now)) }
        XCTAssertTrue(all[0].isAvailable)
        XCTAssertTrue(detector.record(.serverError, endpoint: all[0], endpoints: all, now: now))
        XCTAssertFalse(all[0].isAvailable)
        XCTAssertEqual(all[0].stateName, "ejected")
    }

    func testSuccessResetsTheCount() {
        let all = endpoints(4)
        let detector = detector(gateway: 3)
        let now = NIODeadline.uptimeNanoseconds(1)
        detector.record(.gatewayError, endpoint: all[1], endpoints: all, now: now)
        detector.record(.gatewayError, endpoint: all[1], endpoints: all, now: now)
        detector.record(.success, endpoint: all[1], endpoints: all, now: now)
        detector.record(.gatewayError, endpoint: all[1], endpoints: all, now: now)
        detector.record(.gatewayError, endpoint: all[1], endpoints: all, now: now)
        XCTAssertTrue(all[1].isAvailable)
        XCTAssertTrue(detector.record(.gatewayError, endpoint: all[1], endpoints: all, now: now))
    }

    func testUnejectionAfterBaseTimeTimesEjectionCount() {
        let all = endpoints(2)
        let detector = detector(gateway: 1)
        let start = NIODeadline.uptimeNanoseconds(10_000_000_000)
        XCTAssertTrue(detector.record(.gatewayError, endpoint: all[0], endpoints: all, now: start))
        detector.sweep(now: start + .seconds(29))
        XCTAssertFalse(all[0].isAvailable, "still ejected before baseEjectionTime")
        detector.sweep(now: start + .seconds(30))
        XCTAssertTrue(all[0].isAvailable, "back after 30 s")
        // Second ejection lasts 2 × 30 s.
        let second = start + .seconds(40)
        XCTAssertTrue(detector.record(.gatewayError, endpoint: all[0], endpoints: all, now: second))
        detector.sweep(now: second + .seconds(59))
        XCTAssertFalse(all[0].isAvailable)
        detector.sweep(now: second + .seconds(60))
        XCTAssertTrue(all[0].isAvailable)
    }

    func testMultiplierIsCappedAtTen() {
        XCTAssertEqual(OutlierDetector.ejectionDuration(base: .seconds(30), times: 3), .seconds(90))
        XCTAssertEqual(OutlierDetector.ejectionDuration(base: .seconds(30), times: 10), .seconds(300))
        XCTAssertEqual(OutlierDetector.ejectionDuration(base: .seconds(30), times: 25), .seconds(300))
    }

    func testPercentageCapAllowsAtLeastOneOfTwoOrMore() {
        XCTAssertEqual(OutlierDetector.maxEjected(total: 1, percent: 100), 0)
        XCTAssertEqual(OutlierDetector.maxEjected(total: 2, percent: 10), 1)
        XCTAssertEqual(OutlierDetector.maxEjected(total: 10, percent: 10), 1)
        XCTAssertEqual(OutlierDetector.maxEjected(total: 10, percent: 30), 3)

        let all = endpoints(4)
        let detector = detector(gateway: 1, percent: 50)
        let now = NIODeadline.uptimeNanoseconds(1)
        XCTAssertTrue(detector.record(.gatewayError, endpoint: all[0], endpoints: all, now: now))
        XCTAssertTrue(detector.record(.gatewayError, endpoint: all[1], endpoints: all, now: now))
        XCTAssertFalse(detector.record(.gatewayError, endpoint: all[2], endpoints: all, now: now), "50% of 4 is 2")
        XCTAssertTrue(all[2].isAvailable)
        XCTAssertEqual(detector.ejectedCount, 2)
    }

    func testSingleEndpointIsNeverEjected() {
        let all = endpoints(1)
        let detector = detector(gateway: 1, percent: 100)
        XCTAssertFalse(detector.record(.gatewayError, endpoint: all[0], endpoints: all, now: .uptimeNanoseconds(1)))
        XCTAssertTrue(all[0].isAvailable)
    }
}

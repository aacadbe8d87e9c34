import XCTest
@testable import Sidecar

final class LoopMetricsTests: XCTestCase {
    func testRequestsAreReportedByListenerClusterAndCode() {
        let metrics = LoopMetrics()
        metrics.recordRequest(listener: 0, cluster: 2, code: 200, durationNanoseconds: 400_000)
        metrics.recordRequest(listener: 0, cluster: 2, code: 200, durationNanoseconds: 3_000_000)
        metrics.recordRequest(listener: 0, cluster: 2, code: 503, durationNanoseconds: 20_000_000)
        metrics.recordRequest(listener: 1, cluster: -1, code: 404, durationNanoseconds: 1_000)  // no route
        metrics.recordRequest(listener: 3, cluster: 0, code: 0, durationNanoseconds: 1_000)  // no response

        let snapshot = metrics.snapshot()
        typealias R = LoopMetrics.RequestKey
        XCTAssertEqual(snapshot.requests, [
            R(listener: 0, cluster: 2, code: 200): 2,
            R(listener: 0, cluster: 2, code: 503): 1,
            R(listener: 1, cluster: -1, code: 404): 1,
            R(listener: 3, cluster: 0, code: 0): 1,
        ])
        XCTAssertEqual(Set(snapshot.durations.keys), [
            LoopMetrics.RouteKey(listener: 0, cluster: 2), LoopMetrics.RouteKey(listener: 1, cluster: -1), LoopMetrics.RouteKey(listener: 3, cluster: 0),
        ])
        let histogram = snapshot.durations[LoopMetrics.RouteKey(listener: 0, cluster: 2)]
        XCTAssertEqual(histogram?.count, 3)
        XCTAssertEqual(histogram?.sumNanoseconds, 23_400_000)
        // Unused pairs in between (listener 2, clusters 0 and 1 of listener 0) are not reported.
        XCTAssertNil(snapshot.durations[LoopMetrics.RouteKey(listener: 2, cluster: 0)])
        XCTAssertNil(snapshot.requests[R(listener: 0, cluster: 0, code: 200)])
    }
}

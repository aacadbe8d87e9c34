import XCTest
@testable import Sidecar

final class RouteTableTests: XCTestCase {
    func testNormalizedHostDropsThePortAndLowercases() {
        XCTAssertEqual(RouteTable.normalizedHost("payments"), "payments")
        XCTAssertEqual(RouteTable.normalizedHost("payments:8080"), "payments")
        XCTAssertEqual(RouteTable.normalizedHost("Payments.Mesh:80"), "payments.mesh")
        XCTAssertEqual(RouteTable.normalizedHost("[::1]:8080"), "[::1]")
        XCTAssertEqual(RouteTable.normalizedHost("[::1]"), "[::1]")
        XCTAssertEqual(RouteTable.normalizedHost("[FE80::1]:80"), "[fe80::1]")
        XCTAssertEqual(RouteTable.normalizedHost(""), "")
        XCTAssertEqual(RouteTable.normalizedHost("ÄPFEL.example:1"), "äpfel.example")
    }

    func testFirstMatchingRouteWins() {
        let clusters = ["a": 0, "b": 1, "c": 2, "d": 3]
        let table = RouteTable(
            [
                RouteConfig(host: "Payments", pathPrefix: "/v2", cluster: "a"),
                RouteConfig(host: "*.example", cluster: "b"),
                RouteConfig(host: "payments", cluster: "c"),
                RouteConfig(cluster: "d"),
            ],
            clusterIndex: { clusters[$0] })
        XCTAssertEqual(table.match(host: "payments", path: "/v2/pay"), 0)
        XCTAssertEqual(table.match(host: "payments", path: "/v1/pay"), 2)
        XCTAssertEqual(table.match(host: "a.b.example", path: "/"), 1)
        XCTAssertEqual(table.match(host: "example", path: "/"), 3)
    }
}

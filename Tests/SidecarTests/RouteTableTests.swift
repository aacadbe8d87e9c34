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
        XCTAssertEqual(table.match(authority: "payments", uri: "/v2/pay"), 0)
        XCTAssertEqual(table.match(authority: "payments", uri: "/v1/pay"), 2)
        XCTAssertEqual(table.match(authority: "a.b.example", uri: "/"), 1)
        XCTAssertEqual(table.match(authority: "example", uri: "/"), 3)
    }

    func testMatchingARequestNormalisesOnlyWhatARouteLooksAt() {
        let clusters = ["a": 0, "b": 1, "d": 2]
        let table = RouteTable(
            [RouteConfig(host: "Payments", pathPrefix: "/v2", cluster: "a"), RouteConfig(host: "*.example", cluster: "b"), RouteConfig(cluster: "d")],
            clusterIndex: { clusters[$0] })
        XCTAssertEqual(table.match(authority: "PAYMENTS:8080", uri: "/v2/pay?x=/v1"), 0)
        XCTAssertEqual(table.match(authority: "payments", uri: "/v1?/v2"), 2)
        XCTAssertEqual(table.match(authority: "A.B.Example:443", uri: "/"), 1)
        XCTAssertEqual(table.match(authority: "", uri: "/"), 2)
        // A catch-all route first: the Host header is not even read.
        let catchAll = RouteTable([RouteConfig(cluster: "d")], clusterIndex: { clusters[$0] })
        var hostRead = false
        XCTAssertEqual(catchAll.match(authority: { hostRead = true; return "x" }(), uri: "/"), 2)
        XCTAssertFalse(hostRead)
    }
}

import XCTest
@testable import Sidecar

final class BalancerRoundRobinTests: XCTestCase {
    private typealias S = BalancerTestSupport

    private func sequence(_ endpoints: [LoopEndpoint], _ count: Int, avoid: Endpoint? = nil) -> String {
        var balancer = SmoothWeightedRoundRobin()
        return (0..<count).map { _ in S.label(balancer.pick(endpoints, avoid: avoid, hashKey: nil), in: endpoints) }.joined()
    }

    func testWeights511GiveTheNginxSequence() {
        let endpoints = S.endpoints([5, 1, 1])
        XCTAssertEqual(sequence(endpoints, 21), "aabacaa" + "aabacaa" + "aabacaa")
    }

    func testWeights13AreExactOverEachCycle() {
        let endpoints = S.endpoints([1, 3])
        var balancer = SmoothWeightedRoundRobin()
        for _ in 0..<50 {
            let cycle = S.counts(endpoints, picks: 4) { balancer.pick(endpoints, avoid: nil) }
            XCTAssertEqual(cycle, [1, 3])
        }
    }

    func testEqualWeightsAlternate() {
        XCTAssertEqual(sequence(S.endpoints([1, 1, 1]), 6), "abcabc")
    }

    func testSkipsUnavailableAndRemovedEndpoints() {
        let endpoints = S.endpoints([5, 1, 1])
        S.makeUnavailable(endpoints[0])
        XCTAssertEqual(sequence(endpoints, 4), "bcbc")
        endpoints[1].isMember = false
        XCTAssertEqual(sequence(endpoints, 3), "ccc")
        S.makeUnavailable(endpoints[2])
        XCTAssertEqual(sequence(endpoints, 2), "--")
    }

    func testAvoidsTheFailedEndpointUnlessItIsTheOnlyOne() {
        let endpoints = S.endpoints([5, 1, 1])
        XCTAssertFalse(sequence(endpoints, 20, avoid: endpoints[0].endpoint).contains("a"))
        S.makeUnavailable(endpoints[1])
        S.makeUnavailable(endpoints[2])
        XCTAssertEqual(sequence(endpoints, 3, avoid: endpoints[0].endpoint), "aaa")
    }
}

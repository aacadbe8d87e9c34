import XCTest
@testable import Sidecar

final class BalancerRandomTests: XCTestCase {
    private typealias S = BalancerTestSupport

    func testWeights13AreRespected() {
        let endpoints = S.endpoints([1, 3])
        var balancer = WeightedRandom(random: FastRandom(seed: 1))
        let counts = S.counts(endpoints, picks: 20_000) { balancer.pick(endpoints, avoid: nil) }
        XCTAssertEqual(Double(counts[0]) / 20_000, 0.25, accuracy: 0.02, "\(counts)")
    }

    func testSameSeedSameSequence() {
        let endpoints = S.endpoints([1, 2, 3])
        var first = WeightedRandom(random: FastRandom(seed: 7))
        var second = WeightedRandom(random: FastRandom(seed: 7))
        for _ in 0..<100 {
            XCTAssertTrue(first.pick(endpoints, avoid: nil) === second.pick(endpoints, avoid: nil))
        }
    }

    func testSkipsUnavailableAndAvoid() {
        let endpoints = S.endpoints([1, 1, 1])
        var balancer = WeightedRandom(random: FastRandom(seed: 2))
        S.makeUnavailable(endpoints[1])
        let counts = S.counts(endpoints, picks: 500) { balancer.pick(endpoints, avoid: endpoints[0].endpoint) }
        XCTAssertEqual(counts, [0, 0, 500])
        S.makeUnavailable(endpoints[2])
        XCTAssertTrue(balancer.pick(endpoints, avoid: endpoints[0].endpoint) === endpoints[0])
        S.makeUnavailable(endpoints[0])
        XCTAssertNil(balancer.pick(endpoints, avoid: nil))
    }
}

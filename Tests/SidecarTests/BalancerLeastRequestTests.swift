import Atomics
import XCTest
@testable import Sidecar

final class BalancerLeastRequestTests: XCTestCase {
    private typealias S = BalancerTestSupport

    func testPrefersTheLessLoadedEndpoint() {
        let endpoints = S.endpoints([1, 1])
        endpoints[0].endpoint.activeRequests.store(5, ordering: .relaxed)
        var balancer = LeastRequest(random: FastRandom(seed: 1))
        // Two endpoints: both are always the candidates, so the idle one always wins.
        XCTAssertEqual(S.counts(endpoints, picks: 1000) { balancer.pick(endpoints, avoid: nil) }, [0, 1000])
    }

    func testPowerOfTwoChoicesAmongThree() {
        let endpoints = S.endpoints([1, 1, 1])
        endpoints[0].endpoint.activeRequests.store(10, ordering: .relaxed)
        endpoints[1].endpoint.activeRequests.store(10, ordering: .relaxed)
        var balancer = LeastRequest(random: FastRandom(seed: 2))
        let counts = S.counts(endpoints, picks: 30_000) { balancer.pick(endpoints, avoid: nil) }
        // The idle endpoint wins whenever it is one of the two distinct candidates: 2/3 of picks.
        XCTAssertEqual(Double(counts[2]) / 30_000, 2.0 / 3.0, accuracy: 0.02, "\(counts)")
    }

    func testLoadIsMeasuredPerUnitOfWeight() {
        let endpoints = S.endpoints([1, 3])
        endpoints[0].endpoint.activeRequests.store(2, ordering: .relaxed)  // 2 per unit of weight
        endpoints[1].endpoint.activeRequests.store(3, ordering: .relaxed)  // 1 per unit of weight
        var balancer = LeastRequest(random: FastRandom(seed: 3))
        XCTAssertEqual(S.counts(endpoints, picks: 500) { balancer.pick(endpoints, avoid: nil) }, [0, 500])
    }

    func testWeights13RespectedWhenIdle() {
        let endpoints = S.endpoints([1, 3])
        var balancer = LeastRequest(random: FastRandom(seed: 4))
        let counts = S.counts(endpoints, picks: 20_000) { balancer.pick(endpoints, avoid: nil) }
        XCTAssertEqual(Double(counts[0]) / 20_000, 0.25, accuracy: 0.02, "\(counts)")
    }

    func testWeights13RespectedUnderLoad() {
        // Equal-latency endpoints, 16 requests in flight, completed first in first out.
        let endpoints = S.endpoints([1, 3])
        var balancer = LeastRequest(random: FastRandom(seed: 5))
        var inFlight: [LoopEndpoint] = []
        var counts = [0, 0]
        for _ in 0..<20_000 {
            guard let choice = balancer.pick(endpoints, avoid: nil) else { return XCTFail("no pick") }
            counts[choice === endpoints[0] ? 0 : 1] += 1
            choice.endpoint.activeRequests.wrappingAdd(1, ordering: .relaxed)
            inFlight.append(choice)
            if inFlight.count > 16 {
                inFlight.removeFirst().endpoint.activeRequests.wrappingSubtract(1, ordering: .relaxed)
            }
        }
        XCTAssertEqual(Double(counts[0]) / 20_000, 0.25, accuracy: 0.03, "\(counts)")
    }

    func testAvoidAndUnavailable() {
        let endpoints = S.endpoints([1, 1, 1])
        var balancer = LeastRequest(random: FastRandom(seed: 6))
        endpoints[1].endpoint.activeRequests.store(100, ordering: .relaxed)
        let counts = S.counts(endpoints, picks: 500) { balancer.pick(endpoints, avoid: endpoints[2].endpoint) }
        XCTAssertEqual(counts[2], 0)
        XCTAssertGreaterThan(counts[0], counts[1])
        S.makeUnavailable(endpoints[0])
        S.makeUnavailable(endpoints[1])
        XCTAssertTrue(balancer.pick(endpoints, avoid: endpoints[2].endpoint) === endpoints[2])
        S.makeUnavailable(endpoints[2])
        XCTAssertNil(balancer.pick(endpoints, avoid: nil))
    }
}

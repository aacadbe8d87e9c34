import Atomics
import Foundation
import XCTest
@testable import Sidecar

final class BalancerPeakEWMATests: XCTestCase {
    private typealias S = BalancerTestSupport
    private static let ms: UInt64 = 1_000_000
    private static let second: UInt64 = 1_000_000_000

    /// A settable fake monotonic clock.
    private final class FakeClock {
        var now: UInt64 = 1_000 * BalancerPeakEWMATests.second
    }

    private func balancer(_ clock: FakeClock, seed: UInt64 = 1) -> PeakEWMA<FastRandom> {
        PeakEWMA(random: FastRandom(seed: seed), clock: { clock.now })
    }

    func testPrefersTheFasterEndpoint() {
        let clock = FakeClock()
        let endpoints = S.endpoints([1, 1, 1])
        var balancer = balancer(clock)
        balancer.observe(endpoint: endpoints[0], latencyNanoseconds: 50 * Self.ms, nowNanoseconds: clock.now)
        balancer.observe(endpoint: endpoints[1], latencyNanoseconds: 5 * Self.ms, nowNanoseconds: clock.now)
        balancer.observe(endpoint: endpoints[2], latencyNanoseconds: 40 * Self.ms, nowNanoseconds: clock.now)
        let counts = S.counts(endpoints, picks: 3000) { balancer.pick(endpoints, avoid: nil) }
        // The fast one wins whenever it is a candidate (2/3); a loses to c otherwise.
        XCTAssertEqual(counts[0], 0, "\(counts)")
        XCTAssertEqual(Double(counts[1]) / 3000, 2.0 / 3.0, accuracy: 0.03, "\(counts)")
    }

    func testCostGrowsWithRequestsInFlight() {
        let clock = FakeClock()
        let endpoints = S.endpoints([1, 1])
        var balancer = balancer(clock)
        balancer.observe(endpoint: endpoints[0], latencyNanoseconds: 10 * Self.ms, nowNanoseconds: clock.now)
        balancer.observe(endpoint: endpoints[1], latencyNanoseconds: 20 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertTrue(balancer.pick(endpoints, avoid: nil) === endpoints[0])
        endpoints[0].endpoint.activeRequests.store(2, ordering: .relaxed)  // 10 ms × 3 > 20 ms × 1
        XCTAssertEqual(S.counts(endpoints, picks: 200) { balancer.pick(endpoints, avoid: nil) }, [0, 200])
    }

    func testCostIsDividedByWeight() {
        let clock = FakeClock()
        let endpoints = S.endpoints([1, 4])
        var balancer = balancer(clock)
        balancer.observe(endpoint: endpoints[0], latencyNanoseconds: 10 * Self.ms, nowNanoseconds: clock.now)
        balancer.observe(endpoint: endpoints[1], latencyNanoseconds: 20 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertEqual(S.counts(endpoints, picks: 200) { balancer.pick(endpoints, avoid: nil) }, [0, 200])
    }

    func testPeakIsTakenAtOnceAndDecaysWithTenSecondTimeConstant() {
        let clock = FakeClock()
        let endpoint = S.endpoints([1])[0]
        var balancer = balancer(clock)
        XCTAssertEqual(endpoint.endpoint.latencyMicroseconds.load(ordering: .relaxed), 0)
        balancer.observe(endpoint: endpoint, latencyNanoseconds: 5 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertEqual(endpoint.endpoint.latencyMicroseconds.load(ordering: .relaxed), 5_000)
        balancer.observe(endpoint: endpoint, latencyNanoseconds: 100 * Self.ms, nowNanoseconds: clock.now + Self.ms)
        XCTAssertEqual(endpoint.endpoint.latencyMicroseconds.load(ordering: .relaxed), 100_000, "a peak replaces the estimate")
        clock.now += Self.ms + 10 * Self.second
        balancer.observe(endpoint: endpoint, latencyNanoseconds: 5 * Self.ms, nowNanoseconds: clock.now)
        let expected = 100 * exp(-1.0) + 5 * (1 - exp(-1.0))  // ≈ 39.95 ms
        XCTAssertEqual(endpoint.endpoint.latencyEstimateMilliseconds, expected, accuracy: 0.002)
        XCTAssertEqual(balancer.latencyEstimate(endpoint, now: clock.now) / 1e6, expected, accuracy: 0.001)
        // Between observations the estimate decays towards zero when costs are compared.
        XCTAssertEqual(balancer.latencyEstimate(endpoint, now: clock.now + 10 * Self.second) / 1e6, expected * exp(-1.0), accuracy: 0.001)
    }

    func testAnIdleSlowEndpointIsEventuallyProbedAgain() {
        let clock = FakeClock()
        let endpoints = S.endpoints([1, 1])
        var balancer = balancer(clock)
        balancer.observe(endpoint: endpoints[0], latencyNanoseconds: 500 * Self.ms, nowNanoseconds: clock.now)
        balancer.observe(endpoint: endpoints[1], latencyNanoseconds: 10 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertTrue(balancer.pick(endpoints, avoid: nil) === endpoints[1])
        // b keeps answering in 10 ms; a gets nothing and its old peak decays below b's estimate.
        clock.now += 60 * Self.second
        balancer.observe(endpoint: endpoints[1], latencyNanoseconds: 10 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertTrue(balancer.pick(endpoints, avoid: nil) === endpoints[0])
    }

    func testUnmeasuredEndpointCostsTheDefault() {
        let clock = FakeClock()
        let endpoints = S.endpoints([1, 1])
        var balancer = balancer(clock)
        XCTAssertEqual(balancer.latencyEstimate(endpoints[0], now: clock.now), 30e6)
        balancer.observe(endpoint: endpoints[1], latencyNanoseconds: 40 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertTrue(balancer.pick(endpoints, avoid: nil) === endpoints[0])
        // The first observation replaces the default instead of being averaged with it.
        balancer.observe(endpoint: endpoints[0], latencyNanoseconds: 1 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertEqual(endpoints[0].endpoint.latencyMicroseconds.load(ordering: .relaxed), 1_000)
    }

    func testAvoidAndUnavailable() {
        let clock = FakeClock()
        let endpoints = S.endpoints([1, 1, 1])
        var balancer = balancer(clock)
        balancer.observe(endpoint: endpoints[0], latencyNanoseconds: 1 * Self.ms, nowNanoseconds: clock.now)
        let counts = S.counts(endpoints, picks: 300) { balancer.pick(endpoints, avoid: endpoints[0].endpoint) }
        XCTAssertEqual(counts[0], 0)
        S.makeUnavailable(endpoints[1])
        S.makeUnavailable(endpoints[2])
        XCTAssertTrue(balancer.pick(endpoints, avoid: endpoints[0].endpoint) === endpoints[0])
        S.makeUnavailable(endpoints[0])
        XCTAssertNil(balancer.pick(endpoints, avoid: nil))
    }

    func testTheEnumForwardsObservations() {
        let clock = FakeClock()
        let endpoints = S.endpoints([1, 1])
        var balancer = AnyLoadBalancer(S.config(.peakEwma), random: FastRandom(seed: 3), clock: { clock.now })
        balancer.observe(endpoint: endpoints[0], latencyNanoseconds: 90 * Self.ms, nowNanoseconds: clock.now)
        balancer.observe(endpoint: endpoints[1], latencyNanoseconds: 3 * Self.ms, nowNanoseconds: clock.now)
        XCTAssertEqual(endpoints[0].endpoint.latencyMicroseconds.load(ordering: .relaxed), 90_000)
        XCTAssertEqual(S.counts(endpoints, picks: 100) { balancer.pick(endpoints, avoid: nil) }, [0, 100])
    }
}

import Atomics
import NIOCore
import XCTest
@testable import Sidecar

/// Properties every policy shares, through `AnyLoadBalancer`; and the hash and random sources.
final class BalancerPolicyTests: XCTestCase {
    private typealias S = BalancerTestSupport

    private func balancer(_ policy: LoadBalancingPolicy, seed: UInt64 = 1) -> AnyLoadBalancer {
        AnyLoadBalancer(S.config(policy), random: FastRandom(seed: seed), clock: { 1_000_000_000 })
    }

    func testTheConfigPicksThePolicy() {
        for policy in LoadBalancingPolicy.allCases {
            let made = balancer(policy)
            switch (policy, made) {
            case (.roundRobin, .roundRobin), (.leastRequest, .leastRequest), (.peakEwma, .peakEWMA),
                (.ringHash, .ringHash), (.maglev, .maglev), (.random, .random):
                break
            default:
                XCTFail("\(policy) made \(made)")
            }
            XCTAssertEqual(made.usesHashKey, policy == .ringHash || policy == .maglev, "\(policy)")
        }
    }

    func testNilWhenNothingIsAvailable() {
        for policy in LoadBalancingPolicy.allCases {
            var balancer = balancer(policy)
            XCTAssertNil(balancer.pick([], avoid: nil, hashKey: "k"), "\(policy), empty list")
            XCTAssertNil(balancer.pick([], avoid: nil, hashKey: nil), "\(policy), empty list")
            let endpoints = S.endpoints([1, 2, 3, 1])
            endpoints[0].endpoint.healthy.store(false, ordering: .relaxed)
            endpoints[1].endpoint.ejectedUntil.store(123, ordering: .relaxed)
            endpoints[2].endpoint.removed.store(true, ordering: .relaxed)
            endpoints[3].isMember = false
            for key: Substring? in [nil, "k", "other"] {
                for avoid in [nil, endpoints[0].endpoint] {
                    XCTAssertNil(balancer.pick(endpoints, avoid: avoid, hashKey: key), "\(policy), key \(key ?? "nil")")
                }
            }
        }
    }

    func testAvoidIsRespectedWhenAnotherIsAvailable() {
        for policy in LoadBalancingPolicy.allCases {
            var balancer = balancer(policy)
            let endpoints = S.endpoints([3, 1, 1])
            for (index, key) in S.keys(300).enumerated() {
                let avoid = endpoints[index % 3]
                let choice = balancer.pick(endpoints, avoid: avoid.endpoint, hashKey: index % 2 == 0 ? key : nil)
                XCTAssertNotNil(choice, "\(policy)")
                XCTAssertFalse(choice === avoid, "\(policy)")
            }
            S.makeUnavailable(endpoints[1])
            S.makeUnavailable(endpoints[2])
            for key: Substring? in [nil, "k"] {
                XCTAssertTrue(balancer.pick(endpoints, avoid: endpoints[0].endpoint, hashKey: key) === endpoints[0], "\(policy): the only one left")
            }
        }
    }

    func testUnavailableEndpointsAreNeverPicked() {
        for policy in LoadBalancingPolicy.allCases {
            var balancer = balancer(policy)
            let endpoints = S.endpoints([1, 1, 1, 1])
            S.makeUnavailable(endpoints[1])
            endpoints[3].isMember = false
            for (index, key) in S.keys(400).enumerated() {
                let choice = balancer.pick(endpoints, avoid: nil, hashKey: index % 2 == 0 ? key : nil)
                XCTAssertTrue(choice === endpoints[0] || choice === endpoints[2], "\(policy)")
            }
        }
    }

    func testXXHash64KnownValues() {
        XCTAssertEqual(XXHash64.hash(""), 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(XXHash64.hash("abc"), 0x44BC_2CF5_AD77_0999)
        XCTAssertEqual(XXHash64.hash("Nobody inspects the spammish repetition"), 0xFBCE_A83C_8A37_8BF1)
        XCTAssertEqual(XXHash64.hash(Substring("xabcx").dropFirst().dropLast()), XXHash64.hash("abc"))
        XCTAssertNotEqual(XXHash64.hash("abc", seed: 1), XXHash64.hash("abc"))
    }

    func testFastRandomIsReproducibleFromASeed() {
        var first = FastRandom(seed: 42)
        var second = FastRandom(seed: 42)
        var other = FastRandom(seed: 43)
        let a = (0..<8).map { _ in first.next() }
        XCTAssertEqual(a, (0..<8).map { _ in second.next() })
        XCTAssertNotEqual(a, (0..<8).map { _ in other.next() })
    }
}

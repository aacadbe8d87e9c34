import XCTest
@testable import Sidecar

final class BalancerRingHashTests: XCTestCase {
    private typealias S = BalancerTestSupport

    /// The index in `endpoints` of each key's pick.
    private func mapping(_ endpoints: [LoopEndpoint], keys: [Substring], seed: UInt64 = 1) -> [Int] {
        var balancer = RingHash(random: FastRandom(seed: seed))
        return keys.map { key in
            let choice = balancer.pick(endpoints, avoid: nil, hashKey: key)
            return endpoints.firstIndex { $0 === choice } ?? -1
        }
    }

    func testSameKeySameEndpointInEveryInstanceAndListOrder() {
        let endpoints = S.endpoints([1, 1, 1, 1, 1])
        let keys = S.keys(1000)
        let first = mapping(endpoints, keys: keys, seed: 1)
        XCTAssertEqual(mapping(endpoints, keys: keys, seed: 99), first)
        var balancer = RingHash(random: FastRandom(seed: 5))
        for (key, index) in zip(keys, first) {
            XCTAssertTrue(balancer.pick(endpoints, avoid: nil, hashKey: key) === endpoints[index])
            XCTAssertTrue(balancer.pick(endpoints, avoid: nil, hashKey: key) === endpoints[index])
        }
        let reversed = Array(endpoints.reversed())
        let reversedMapping = mapping(reversed, keys: keys)
        XCTAssertEqual(reversedMapping.map { endpoints.count - 1 - $0 }, first)
    }

    func testTenThousandKeysSpreadEvenly() {
        let keys = S.keys(10_000)
        for count in [3, 5, 10] {
            let endpoints = S.endpoints(Array(repeating: 1, count: count))
            var shares = [Int](repeating: 0, count: count)
            for index in mapping(endpoints, keys: keys) { shares[index] += 1 }
            let fair = 10_000 / count
            for share in shares {
                XCTAssertLessThan(abs(share - fair), 10_000 * 3 / 100, "\(count) endpoints: \(shares)")
            }
        }
    }

    func testWeightsSetTheShares() {
        let endpoints = S.endpoints([1, 3])
        var shares = [0, 0]
        for index in mapping(endpoints, keys: S.keys(10_000)) { shares[index] += 1 }
        XCTAssertEqual(Double(shares[0]) / 10_000, 0.25, accuracy: 0.03, "\(shares)")
    }

    func testAddingAnEndpointMovesAboutOneNthOfTheKeysAllToIt() {
        let keys = S.keys(10_000)
        for count in [3, 5, 10] {
            let all = S.endpoints(Array(repeating: 1, count: count))
            let before = mapping(Array(all.dropLast()), keys: keys)
            let after = mapping(all, keys: keys)
            var moved = 0
            for (old, new) in zip(before, after) where old != new {
                moved += 1
                XCTAssertEqual(new, count - 1, "a key moved between two old endpoints")
            }
            XCTAssertLessThanOrEqual(Double(moved) / 10_000, 1 / Double(count) + 0.03, "\(count) endpoints: \(moved) moved")
            XCTAssertGreaterThan(moved, 0)
        }
    }

    func testUnavailableEndpointPassesItsKeysOnAndOnlyThose() {
        let endpoints = S.endpoints([1, 1, 1, 1])
        let keys = S.keys(2000)
        let before = mapping(endpoints, keys: keys)
        S.makeUnavailable(endpoints[1])
        var balancer = RingHash(random: FastRandom(seed: 1))
        var receivers = Set<Int>()
        for (key, old) in zip(keys, before) {
            let choice = balancer.pick(endpoints, avoid: nil, hashKey: key)
            let index = endpoints.firstIndex { $0 === choice } ?? -1
            if old == 1 {
                XCTAssertNotEqual(index, 1)
                XCTAssertNotEqual(index, -1)
                receivers.insert(index)
                XCTAssertTrue(balancer.pick(endpoints, avoid: nil, hashKey: key) === choice, "the fallback is stable")
            } else {
                XCTAssertEqual(index, old)
            }
        }
        XCTAssertEqual(receivers.count, 3, "the failed endpoint's keys spread over the others")
    }

    func testAvoidWalksOnUnlessNothingElseIsAvailable() {
        let endpoints = S.endpoints([1, 1, 1])
        let keys = S.keys(300)
        let before = mapping(endpoints, keys: keys)
        var balancer = RingHash(random: FastRandom(seed: 1))
        for (key, old) in zip(keys, before) {
            let choice = balancer.pick(endpoints, avoid: endpoints[old].endpoint, hashKey: key)
            XCTAssertFalse(choice === endpoints[old])
            XCTAssertNotNil(choice)
        }
        S.makeUnavailable(endpoints[1])
        S.makeUnavailable(endpoints[2])
        XCTAssertTrue(balancer.pick(endpoints, avoid: endpoints[0].endpoint, hashKey: "k") === endpoints[0])
        S.makeUnavailable(endpoints[0])
        XCTAssertNil(balancer.pick(endpoints, avoid: nil, hashKey: "k"))
        XCTAssertNil(balancer.pick(endpoints, avoid: nil, hashKey: nil))
    }

    func testNoKeyIsAWeightedRandomPick() {
        let endpoints = S.endpoints([1, 3])
        var balancer = RingHash(random: FastRandom(seed: 3))
        let counts = S.counts(endpoints, picks: 20_000) { balancer.pick(endpoints, avoid: nil, hashKey: nil) }
        XCTAssertEqual(Double(counts[0]) / 20_000, 0.25, accuracy: 0.02, "\(counts)")
    }

    func testRingSizeFollowsWeightsAndIsCapped() {
        var balancer = RingHash(random: FastRandom(seed: 1))
        _ = balancer.pick(S.endpoints([1, 2, 1]), avoid: nil, hashKey: "k")
        XCTAssertEqual(balancer.ringSize, 4_000)
        _ = balancer.pick(S.endpoints(Array(repeating: 1000, count: 300)), avoid: nil, hashKey: "k")
        XCTAssertLessThanOrEqual(balancer.ringSize, RingHash<FastRandom>.maxRingSize)
        XCTAssertGreaterThan(balancer.ringSize, RingHash<FastRandom>.maxRingSize * 9 / 10)
    }

    func testTheRingIsRebuiltOnlyForANewList() {
        var snapshot = EndpointListSnapshot()
        let endpoints = S.endpoints([1, 1])
        XCTAssertTrue(snapshot.update(endpoints))
        XCTAssertFalse(snapshot.update(endpoints))
        let copy = endpoints
        XCTAssertFalse(snapshot.update(copy), "a copy shares the storage: same list")
        XCTAssertTrue(snapshot.update(endpoints.reversed()))
        XCTAssertTrue(snapshot.update(endpoints + S.endpoints([1], block: 1)))
        var empty = EndpointListSnapshot()
        XCTAssertFalse(empty.update([]))
    }
}

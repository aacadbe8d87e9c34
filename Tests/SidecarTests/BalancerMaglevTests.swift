import XCTest
@testable import Sidecar

final class BalancerMaglevTests: XCTestCase {
    private typealias S = BalancerTestSupport

    private func mapping(_ endpoints: [LoopEndpoint], keys: [Substring], seed: UInt64 = 1) -> [Int] {
        var balancer = Maglev(random: FastRandom(seed: seed))
        return keys.map { key in
            let choice = balancer.pick(endpoints, avoid: nil, hashKey: key)
            return endpoints.firstIndex { $0 === choice } ?? -1
        }
    }

    private func table(_ endpoints: [LoopEndpoint]) -> [Int32] {
        var balancer = Maglev(random: FastRandom(seed: 1))
        _ = balancer.pick(endpoints, avoid: nil, hashKey: "k")
        return balancer.table
    }

    func testEverySlotIsFilledEvenlyWithEqualWeights() {
        for count in [1, 3, 7, 10] {
            let table = table(S.endpoints(Array(repeating: 1, count: count)))
            XCTAssertEqual(table.count, 65_537)
            var shares = [Int](repeating: 0, count: count)
            for owner in table {
                XCTAssertTrue((0..<Int32(count)).contains(owner))
                shares[Int(owner)] += 1
            }
            XCTAssertLessThanOrEqual(shares.max()! - shares.min()!, 1, "\(shares)")
        }
    }

    func testWeightsSetTheTableShares() {
        let weights = [1, 3, 2, 10]
        let table = table(S.endpoints(weights))
        var shares = [Int](repeating: 0, count: weights.count)
        for owner in table { shares[Int(owner)] += 1 }
        let total = weights.reduce(0, +)
        for (share, weight) in zip(shares, weights) {
            XCTAssertEqual(Double(share) / 65_537, Double(weight) / Double(total), accuracy: 0.001, "\(shares)")
        }
    }

    func testTenThousandKeysSpreadEvenly() {
        for count in [3, 5, 10] {
            let endpoints = S.endpoints(Array(repeating: 1, count: count))
            var shares = [Int](repeating: 0, count: count)
            for index in mapping(endpoints, keys: S.keys(10_000)) { shares[index] += 1 }
            for share in shares {
                XCTAssertLessThan(abs(share - 10_000 / count), 10_000 * 3 / 100, "\(count) endpoints: \(shares)")
            }
        }
    }

    func testSameKeySameEndpointInEveryInstanceAndListOrder() {
        let endpoints = S.endpoints([1, 2, 1, 1])
        let keys = S.keys(1000)
        let first = mapping(endpoints, keys: keys)
        XCTAssertEqual(mapping(endpoints, keys: keys, seed: 42), first)
        XCTAssertEqual(mapping(Array(endpoints.reversed()), keys: keys).map { endpoints.count - 1 - $0 }, first)
    }

    func testAddingAnEndpointMovesFewKeys() {
        let keys = S.keys(10_000)
        for count in [3, 5, 10] {
            let all = S.endpoints(Array(repeating: 1, count: count))
            let before = mapping(Array(all.dropLast()), keys: keys)
            let after = mapping(all, keys: keys)
            let moved = zip(before, after).filter { $0 != $1 }.count
            let movedToNew = zip(before, after).filter { $0 != $1 && $1 == count - 1 }.count
            XCTAssertLessThanOrEqual(Double(moved) / 10_000, 1 / Double(count) + 0.05, "\(count) endpoints: \(moved) moved")
            XCTAssertGreaterThanOrEqual(Double(movedToNew) / Double(moved), 0.8, "most moved keys go to the new endpoint")
        }
    }

    func testUnavailableEndpointPassesItsKeysOnAndOnlyThose() {
        let endpoints = S.endpoints([1, 1, 1, 1])
        let keys = S.keys(2000)
        let before = mapping(endpoints, keys: keys)
        S.makeUnavailable(endpoints[2])
        let after = mapping(endpoints, keys: keys)
        for (old, new) in zip(before, after) {
            if old == 2 {
                XCTAssertTrue([0, 1, 3].contains(new))
            } else {
                XCTAssertEqual(new, old)
            }
        }
        XCTAssertEqual(Set(zip(before, after).filter { $0.0 == 2 }.map(\.1)).count, 3)
    }

    func testAvoidWalksOnUnlessNothingElseIsAvailable() {
        let endpoints = S.endpoints([1, 1, 1])
        let keys = S.keys(300)
        let before = mapping(endpoints, keys: keys)
        var balancer = Maglev(random: FastRandom(seed: 1))
        for (key, old) in zip(keys, before) {
            let choice = balancer.pick(endpoints, avoid: endpoints[old].endpoint, hashKey: key)
            XCTAssertNotNil(choice)
            XCTAssertFalse(choice === endpoints[old])
        }
        S.makeUnavailable(endpoints[0])
        S.makeUnavailable(endpoints[1])
        XCTAssertTrue(balancer.pick(endpoints, avoid: endpoints[2].endpoint, hashKey: "k") === endpoints[2])
        S.makeUnavailable(endpoints[2])
        XCTAssertNil(balancer.pick(endpoints, avoid: nil, hashKey: "k"))
        XCTAssertNil(balancer.pick(endpoints, avoid: nil, hashKey: nil))
    }

    func testNoKeyIsAWeightedRandomPick() {
        let endpoints = S.endpoints([1, 3])
        var balancer = Maglev(random: FastRandom(seed: 2))
        let counts = S.counts(endpoints, picks: 20_000) { balancer.pick(endpoints, avoid: nil, hashKey: nil) }
        XCTAssertEqual(Double(counts[0]) / 20_000, 0.25, accuracy: 0.02, "\(counts)")
    }
}

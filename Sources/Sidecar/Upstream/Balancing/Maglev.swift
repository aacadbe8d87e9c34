/// `maglev`: Google's Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted as in
/// Envoy's `MaglevTable`.
///
/// A lookup table of `tableSize` = 65,537 (prime) slots is filled in turns: each endpoint walks its
/// own permutation of the slots — offset = xxHash64(address, seed 0) mod M, skip =
/// xxHash64(address, seed 1) mod (M − 1) + 1 — and takes the next free slot. Weights set how often
/// an endpoint takes a turn (turns go in address-hash order, so the table does not depend on the list's
/// order): in round `r` an endpoint of weight w takes one when r × w has reached
/// its target, which then grows by the largest weight, so each endpoint fills slots in proportion
/// to its weight (within one slot). A request goes to the owner of slot xxHash64(key) mod M; an
/// unavailable owner (or `avoid`, when another is available) passes it to the next slots in turn,
/// whose owners are spread over the endpoints. With no key it is a weighted random pick.
///
/// The table (256 kB) is rebuilt only when the endpoint list changes (`EndpointListSnapshot`).
struct Maglev<Random: RandomNumberGenerator>: LoadBalancer {
    static var tableSize: Int { 65_537 }

    private var random: Random
    private var snapshot = EndpointListSnapshot()
    /// For each slot, the index in `snapshot.endpoints` of its owner.
    private(set) var table: [Int32] = []

    init(random: Random) {
        self.random = random
    }

    mutating func pick(_ endpoints: [LoopEndpoint], avoid: Endpoint?, hashKey: Substring?) -> LoopEndpoint? {
        guard let hashKey else { return endpoints.weightedRandom(avoiding: avoid, using: &random) }
        if snapshot.update(endpoints) { rebuild() }
        guard !table.isEmpty else { return nil }
        let start = Int(XXHash64.hash(hashKey) % UInt64(table.count))
        let owner = snapshot.endpoints[Int(table[start])]
        if owner.isEligible(avoiding: avoid) { return owner }
        return walk(from: start, avoid: avoid) ?? (avoid == nil ? nil : walk(from: start, avoid: nil))
    }

    /// The owner of the next slot after `start` that is eligible, going round the table once at most.
    private func walk(from start: Int, avoid: Endpoint?) -> LoopEndpoint? {
        snapshot.endpoints.firstEligibleOwner(slots: table.count, from: start, avoiding: avoid) { Int(table[$0]) }
    }

    /// Rebuilds the table for the snapshot's endpoints (for tests: `table` after a pick).
    private mutating func rebuild() {
        let endpoints = snapshot.endpoints
        guard !endpoints.isEmpty else {
            table = []
            return
        }
        let size = Self.tableSize
        let count = endpoints.count
        var offsets = [Int](repeating: 0, count: count)
        var skips = [Int](repeating: 0, count: count)
        var weights = [Int](repeating: 0, count: count)
        var addresses = [String](repeating: "", count: count)
        var hashes = [UInt64](repeating: 0, count: count)
        for (index, candidate) in endpoints.enumerated() {
            let address = candidate.endpoint.address.description
            addresses[index] = address
            hashes[index] = XXHash64.hash(address, seed: 0)
            offsets[index] = Int(hashes[index] % UInt64(size))
            skips[index] = Int(XXHash64.hash(address, seed: 1) % UInt64(size - 1)) + 1
            weights[index] = candidate.endpoint.weight
        }
        // Turns go in address-hash order, not list order: every loop and every sidecar with the
        // same endpoints builds the same table, whatever order the pushes listed them in.
        let order = (0..<count).sorted { hashes[$0] != hashes[$1] ? hashes[$0] < hashes[$1] : addresses[$0] < addresses[$1] }
        let maxWeight = weights.max() ?? 1
        // The next slot of each endpoint's permutation, and the turn count it must reach to take one.
        var next = offsets
        var targets = [Int](repeating: 0, count: count)
        var slots = [Int32](repeating: -1, count: size)
        var filled = 0
        var round = 1
        while filled < size {
            for index in order where filled < size {
                if round * weights[index] < targets[index] { continue }
                targets[index] += maxWeight
                var slot = next[index]
                while slots[slot] >= 0 {
                    slot += skips[index]
                    if slot >= size { slot -= size }
                }
                slots[slot] = Int32(index)
                slot += skips[index]
                next[index] = slot >= size ? slot - size : slot
                filled += 1
            }
            round += 1
        }
        table = slots
    }
}

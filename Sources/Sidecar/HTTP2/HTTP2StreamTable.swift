/// The open streams of one HTTP/2 connection, by stream ID.
///
/// A request's stream is looked up four or five times on each side (its headers, data, end of
/// stream and close arrive as separate nghttp2 callbacks). A `Dictionary` hashes every key with
/// SipHash: ~230 instructions a lookup, ~1,000 a request on each sidecar. A stream ID needs far
/// less: SplitMix64's finaliser (two multiplications, three shifts) of the ID plus a seed drawn
/// at random for each table, keeping the top bits. That spreads the IDs a connection's streams
/// get over the slots whatever their pattern, and a client, which picks the IDs of its own
/// streams, cannot choose IDs that pile up in one probe run without knowing the seed. (A single
/// multiplication is not enough: IDs a power of two apart lose that many bits of the multiplier,
/// and about one random multiplier in twenty then piled 200 such IDs into runs of 150.)
///
/// Open addressing with linear probing, at most half full (so a probe always ends at an empty
/// slot), and deletion by moving later entries of the probe run back (Knuth's Algorithm R), so
/// a long-lived connection leaves no tombstones behind. Stream ID 0 (the connection) is never a
/// key: it marks an empty slot.
struct HTTP2StreamTable<Value>: Sequence {
    fileprivate struct Slot {
        var id: Int32
        var value: Value?
    }

    private var slots: [Slot] = []
    private(set) var count = 0
    /// 64 minus log2 of the slot count: the hash's top bits pick the home slot.
    private var shift: UInt64 = 64
    /// Drawn when the table first gets slots, unless given.
    private var seed: UInt64?

    /// Slots the first insertion makes; the table doubles when it would be more than half full.
    static var initialCapacity: Int { 8 }

    init() {}

    /// A table with a fixed seed, for tests that need to know where IDs land.
    init(seed: UInt64) {
        self.seed = seed
    }

    /// The hash of `id` under `seed` (SplitMix64's finaliser); its top bits are the home slot.
    @inline(__always)
    static func hash(_ id: Int32, seed: UInt64) -> UInt64 {
        var z = UInt64(UInt32(bitPattern: id)) &+ seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    var isEmpty: Bool { count == 0 }

    private var mask: Int { slots.count &- 1 }

    @inline(__always)
    private func home(of id: Int32) -> Int {
        Int(truncatingIfNeeded: Self.hash(id, seed: seed ?? 0) >> shift)
    }

    /// Where `id` is stored, if it is (never for 0, which marks empty slots).
    @inline(__always)
    private func index(of id: Int32) -> Int? {
        guard count > 0, id != 0 else { return nil }
        var index = home(of: id)
        while true {
            let stored = slots[index].id
            if stored == id { return index }
            if stored == 0 { return nil }
            index = (index &+ 1) & mask
        }
    }

    subscript(id: Int32) -> Value? {
        get {
            guard let index = index(of: id) else { return nil }
            return slots[index].value
        }
        set {
            if let newValue {
                insert(newValue, for: id)
            } else {
                removeValue(forKey: id)
            }
        }
    }

    private mutating func insert(_ value: Value, for id: Int32) {
        precondition(id != 0, "stream 0 is the connection, not a stream")
        if let index = index(of: id) {
            slots[index].value = value
            return
        }
        if (count &+ 1) &* 2 > slots.count { grow() }
        var index = home(of: id)
        while slots[index].id != 0 { index = (index &+ 1) & mask }
        slots[index] = Slot(id: id, value: value)
        count &+= 1
    }

    @discardableResult
    mutating func removeValue(forKey id: Int32) -> Value? {
        guard var hole = index(of: id) else { return nil }
        let removed = slots[hole].value
        slots[hole] = Slot(id: 0, value: nil)
        count &-= 1
        // Algorithm R: an entry further along the run moves into the hole unless its home lies
        // cyclically in (hole, its place], where a lookup still finds it without the hole.
        var next = (hole &+ 1) & mask
        while slots[next].id != 0 {
            let entryHome = home(of: slots[next].id)
            let staysReachable = hole <= next
                ? (hole < entryHome && entryHome <= next)
                : (hole < entryHome || entryHome <= next)
            if !staysReachable {
                slots[hole] = slots[next]
                slots[next] = Slot(id: 0, value: nil)
                hole = next
            }
            next = (next &+ 1) & mask
        }
        return removed
    }

    /// Empties the table and lets its storage go (a connection that closes).
    mutating func removeAll() {
        slots = []
        count = 0
    }

    private mutating func grow() {
        let old = slots
        let capacity = Swift.max(Self.initialCapacity, old.count &* 2)
        slots = Array(repeating: Slot(id: 0, value: nil), count: capacity)
        shift = 64 &- UInt64(capacity.trailingZeroBitCount)
        if seed == nil { seed = UInt64.random(in: 0...UInt64.max) }
        count = 0
        for slot in old where slot.id != 0 {
            var index = home(of: slot.id)
            while slots[index].id != 0 { index = (index &+ 1) & mask }
            slots[index] = slot
            count &+= 1
        }
    }

    /// The most slots one lookup would visit (tests: how well the IDs are spread).
    var longestProbeRun: Int {
        var longest = 0
        for (index, slot) in slots.enumerated() where slot.id != 0 {
            longest = Swift.max(longest, (index &- home(of: slot.id)) & mask &+ 1)
        }
        return longest
    }

    /// The values, in no particular order. Iterating a copy: the table may change meanwhile.
    struct Iterator: IteratorProtocol {
        fileprivate let slots: [Slot]
        fileprivate var index = 0

        mutating func next() -> Value? {
            while index < slots.count {
                let slot = slots[index]
                index &+= 1
                if slot.id != 0 { return slot.value }
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(slots: slots) }

    var underestimatedCount: Int { count }
}

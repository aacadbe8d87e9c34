import XCTest
@testable import Sidecar

final class HTTP2StreamTableTests: XCTestCase {
    private final class Box {
        let id: Int32
        init(_ id: Int32) { self.id = id }
    }

    func testEmptyTableFindsNothing() {
        var table = HTTP2StreamTable<Box>()
        XCTAssertTrue(table.isEmpty)
        XCTAssertNil(table[1])
        XCTAssertNil(table.removeValue(forKey: 1))
        XCTAssertEqual(Array(table).count, 0)
    }

    func testInsertReplaceRemove() {
        var table = HTTP2StreamTable<Box>()
        let first = Box(1)
        table[1] = first
        XCTAssertTrue(table[1] === first)
        let second = Box(1)
        table[1] = second
        XCTAssertEqual(table.count, 1, "a second value for an id replaces the first")
        XCTAssertTrue(table[1] === second)
        table[1] = nil
        XCTAssertTrue(table.isEmpty)
        XCTAssertNil(table[1])
    }

    /// Streams as one connection sees them: ids in increasing order, a few open at a time, each
    /// closed after a random while, for far more streams than slots, so ids keep wrapping around
    /// the table and removals keep moving entries back. Every step is held to a `Dictionary`.
    func testMatchesADictionaryOverALongLivedConnection() {
        for (seed, step) in [(UInt64(1), Int32(2)), (2, 2), (3, 1), (4, 2)] {
            var generator = ConfigTestSupport.SeededGenerator(seed: seed)
            var table = HTTP2StreamTable<Box>()
            var reference: [Int32: Box] = [:]
            var open: [Int32] = []  // ascending, as opened
            var nextID: Int32 = 1
            for _ in 0..<40_000 {
                let action = Int.random(in: 0..<10, using: &generator)
                if action < 4 || open.isEmpty, open.count < 300 {
                    let box = Box(nextID)
                    table[nextID] = box
                    reference[nextID] = box
                    open.append(nextID)
                    nextID += step
                } else if action < 8 {
                    // Close one of the open streams: usually the oldest, sometimes any.
                    let place = Bool.random(using: &generator) ? 0 : Int.random(in: 0..<open.count, using: &generator)
                    let id = open.remove(at: place)
                    XCTAssertTrue(table.removeValue(forKey: id) === reference.removeValue(forKey: id))
                    XCTAssertNil(table.removeValue(forKey: id))
                } else {
                    // Look up ids used before (open or closed) and the next, unused one.
                    let id = Int32.random(in: 1...nextID, using: &generator)
                    XCTAssertTrue(table[id] === reference[id], "stream \(id), seed \(seed)")
                }
                XCTAssertEqual(table.count, reference.count)
            }
            // Everything still open is found, and iteration yields exactly it.
            for (id, box) in reference { XCTAssertTrue(table[id] === box, "stream \(id), seed \(seed)") }
            XCTAssertEqual(Set(table.map { $0.id }), Set(reference.keys))
        }
    }

    /// Keys that share a home slot form one probe run; removing from its front or middle must
    /// leave the rest reachable.
    func testRemovalInsideACollidingRunKeepsTheRestReachable() {
        // With a known seed and 8 slots (the top 3 bits of the hash), find four ids whose home is
        // slot 0 and one whose home is slot 1: inserted in that order they make one run.
        let seed: UInt64 = 42
        func home(_ id: Int32) -> UInt64 { HTTP2StreamTable<Box>.hash(id, seed: seed) >> 61 }
        let odd = stride(from: Int32(1), to: 100_000, by: 2)
        let slotZero = Array(odd.lazy.filter { home($0) == 0 }.prefix(4))
        let slotOne = odd.first { home($0) == 1 }!
        var table = HTTP2StreamTable<Box>(seed: seed)
        let ids = [slotZero[0], slotZero[1], slotOne, slotZero[2], slotZero[3]]
        for id in ids { table[id] = Box(id) }
        XCTAssertEqual(table.longestProbeRun, 5, "one run from slot 0")
        for removed in ids {
            var copy = table
            XCTAssertEqual(copy.removeValue(forKey: removed)?.id, removed)
            for id in ids where id != removed {
                XCTAssertEqual(copy[id]?.id, id, "\(id) after removing \(removed)")
            }
            XCTAssertNil(copy[removed])
        }
    }

    func testIteratingACopyWhileTheTableChanges() {
        var table = HTTP2StreamTable<Box>()
        for id in stride(from: Int32(1), through: 41, by: 2) { table[id] = Box(id) }
        var seen: [Int32] = []
        for box in table {
            seen.append(box.id)
            table[box.id] = nil
            table[box.id + 1000] = Box(box.id + 1000)
        }
        XCTAssertEqual(seen.sorted(), Array(stride(from: Int32(1), through: 41, by: 2)))
        XCTAssertEqual(table.count, 21)
        XCTAssertNil(table[1])
        XCTAssertEqual(table[1001]?.id, 1001)
    }

    /// Stream 0 is the connection, never a stream: asking to remove it changes nothing (an empty
    /// slot's id is 0, so a lookup of 0 must not find one).
    func testStreamZeroIsNeverFound() {
        var table = HTTP2StreamTable<Box>()
        table[1] = Box(1)
        table[3] = Box(3)
        XCTAssertNil(table[0])
        XCTAssertNil(table.removeValue(forKey: 0))
        table[0] = nil
        XCTAssertEqual(table.count, 2)
        XCTAssertEqual(table[1]?.id, 1)
        XCTAssertEqual(table[3]?.id, 3)
    }

    /// Ids a client could pick to collide under `id / 2` slots or a single multiplication (a
    /// power of two apart) spread out: no long probe runs, for any of 200 seeds.
    func testIDsAPowerOfTwoApartDoNotPileUp() {
        var longest = 0
        for seed in 1...200 {
            var table = HTTP2StreamTable<Box>(seed: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15)
            let ids = (0..<200).map { Int32(1 + 1024 * $0) }  // 512 slots once grown for 200
            for id in ids { table[id] = Box(id) }
            longest = max(longest, table.longestProbeRun)
            for id in ids { XCTAssertEqual(table[id]?.id, id) }
        }
        XCTAssertLessThan(longest, 40, "ids a power of two apart")
    }

    func testRemoveAllEmptiesTheTable() {
        var table = HTTP2StreamTable<Box>()
        for id in stride(from: Int32(1), through: 99, by: 2) { table[id] = Box(id) }
        table.removeAll()
        XCTAssertTrue(table.isEmpty)
        XCTAssertNil(table[1])
        table[101] = Box(101)
        XCTAssertEqual(table[101]?.id, 101)
    }
}

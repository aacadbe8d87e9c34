/// Makes `x-request-id` values: random version-4 UUIDs in their usual text form.
///
/// One generator lives on each event loop (it is not thread-safe), so making an id takes no lock
/// and draws from a fast xoshiro256** stream (`FastRandom`) seeded from the system's random source.
struct RequestIDGenerator {
    private var random = FastRandom()

    init() {}

    mutating func nextUInt64() -> UInt64 { random.next() }

    /// A new UUID string such as `3f2c1e8a-9b7d-4c2e-8f1a-0b9c8d7e6f5a`.
    mutating func next() -> String {
        var high = nextUInt64()
        var low = nextUInt64()
        high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000  // version 4
        low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // variant 10
        return String(unsafeUninitializedCapacity: 36) { out in
            let hex: StaticString = "0123456789abcdef"
            let digits = hex.utf8Start
            var index = 0
            for position in 0..<32 {
                if position == 8 || position == 12 || position == 16 || position == 20 {
                    out[index] = UInt8(ascii: "-")
                    index += 1
                }
                let word = position < 16 ? high : low
                let shift = UInt64(60 - (position % 16) * 4)
                out[index] = digits[Int((word >> shift) & 0xF)]
                index += 1
            }
            return index
        }
    }
}

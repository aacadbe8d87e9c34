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
            // 8-4-4-4-12: a dash before hex digits 8, 12, 16 and 20; two digits per byte.
            for byteIndex in 0..<16 {
                if byteIndex == 4 || byteIndex == 6 || byteIndex == 8 || byteIndex == 10 {
                    out[index] = UInt8(ascii: "-")
                    index += 1
                }
                let word = byteIndex < 8 ? high : low
                let byte = Int(truncatingIfNeeded: word >> UInt64(56 - (byteIndex & 7) * 8))
                out[index] = digits[(byte >> 4) & 0xF]
                out[index + 1] = digits[byte & 0xF]
                index += 2
            }
            return index
        }
    }
}

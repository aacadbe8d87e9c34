/// Makes `x-request-id` values: random version-4 UUIDs in their usual text form.
///
/// One generator lives on each event loop (it is not thread-safe), so making an id takes no lock
/// and draws from a fast xoshiro256** stream (`FastRandom`) seeded from the system's random source.
struct RequestIDGenerator {
    private var random = FastRandom()

    init() {}

    mutating func nextUInt64() -> UInt64 { random.next() }

    /// A new version-4 UUID as its 128 bits (`text` or `write` make its text when it is needed).
    mutating func nextBits() -> (high: UInt64, low: UInt64) {
        let high = (nextUInt64() & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000  // version 4
        let low = (nextUInt64() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // variant 10
        return (high, low)
    }

    /// The length of a UUID's text.
    static let textLength = 36

    /// The 128 bits `high`, `low` in UUID text form (8-4-4-4-12 lower-case hex digits).
    static func text(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: textLength) { out in
            write(high: high, low: low, to: UnsafeMutableRawPointer(out.baseAddress!))
            return textLength
        }
    }

    /// Writes the text of `high`, `low` (`textLength` bytes) at `base`.
    static func write(high: UInt64, low: UInt64, to base: UnsafeMutableRawPointer) {
        let first = hexDigits(UInt32(truncatingIfNeeded: high >> 32))
        let second = hexDigits(UInt32(truncatingIfNeeded: high))
        let third = hexDigits(UInt32(truncatingIfNeeded: low >> 32))
        let fourth = hexDigits(UInt32(truncatingIfNeeded: low))
        // Stored little-endian: a word's low bytes are its first digits.
        base.storeBytes(of: first.littleEndian, toByteOffset: 0, as: UInt64.self)
        base.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 8, as: UInt8.self)
        base.storeBytes(of: UInt32(truncatingIfNeeded: second).littleEndian, toByteOffset: 9, as: UInt32.self)
        base.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 13, as: UInt8.self)
        base.storeBytes(of: UInt32(truncatingIfNeeded: second >> 32).littleEndian, toByteOffset: 14, as: UInt32.self)
        base.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 18, as: UInt8.self)
        base.storeBytes(of: UInt32(truncatingIfNeeded: third).littleEndian, toByteOffset: 19, as: UInt32.self)
        base.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 23, as: UInt8.self)
        base.storeBytes(of: UInt32(truncatingIfNeeded: third >> 32).littleEndian, toByteOffset: 24, as: UInt32.self)
        base.storeBytes(of: fourth.littleEndian, toByteOffset: 28, as: UInt64.self)
    }

    /// The eight hex digits of `value` as ASCII bytes in one word, the first digit in the low
    /// byte: the nibbles are spread one per byte, then each becomes `0`-`9` or `a`-`f` at once.
    @inline(__always)
    static func hexDigits(_ value: UInt32) -> UInt64 {
        var spread = UInt64(value)
        spread = ((spread & 0xFFFF_0000) << 16) | (spread & 0xFFFF)
        spread = ((spread & 0x0000_FF00_0000_FF00) << 8) | (spread & 0x0000_00FF_0000_00FF)
        spread = ((spread & 0x00F0_00F0_00F0_00F0) << 4) | (spread & 0x000F_000F_000F_000F)
        // Byte i holds nibble i (the last digit in byte 0). A nibble of 10 or more gets the
        // distance from `9` + 1 to `a` added.
        let letters = ((spread &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
        let digits = spread &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
        return digits.byteSwapped
    }
}

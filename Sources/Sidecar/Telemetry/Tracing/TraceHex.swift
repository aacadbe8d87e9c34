import NIOCore

/// Hex encoding and decoding of trace and span ids, without Foundation and without
/// intermediate allocations beyond the resulting string.
enum TraceHex {
    private static let digits: StaticString = "0123456789abcdef"

    /// Parses exactly `text.count` hex digits (at most 16) into a number; nil on any other
    /// character. `lowercaseOnly` rejects `A`-`F` (W3C trace context requires lowercase).
    static func parse<Digits: Collection<UInt8>>(_ text: Digits, lowercaseOnly: Bool) -> UInt64? {
        guard !text.isEmpty, text.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in text {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F") where !lowercaseOnly: nibble = byte &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            value = (value << 4) | UInt64(nibble)
        }
        return value
    }

    /// Parses a 16- or 32-digit trace id (a 16-digit one fills the low half, as B3 allows).
    static func parseTraceID<Digits: Collection<UInt8>>(_ text: Digits, lowercaseOnly: Bool) -> TraceID? {
        switch text.count {
        case 16:
            guard let low = parse(text, lowercaseOnly: lowercaseOnly) else { return nil }
            return TraceID(high: 0, low: low)
        case 32:
            let middle = text.index(text.startIndex, offsetBy: 16)
            guard let high = parse(text[text.startIndex..<middle], lowercaseOnly: lowercaseOnly),
                  let low = parse(text[middle...], lowercaseOnly: lowercaseOnly)
            else { return nil }
            return TraceID(high: high, low: low)
        default:
            return nil
        }
    }

    /// 16 lowercase hex digits.
    static func string(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { out in
            write(value, into: out, at: 0)
            return 16
        }
    }

    /// 32 lowercase hex digits.
    static func string(_ high: UInt64, _ low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 32) { out in
            write(high, into: out, at: 0)
            write(low, into: out, at: 16)
            return 32
        }
    }

    /// Writes 16 hex digits of `value` into `out` starting at `offset`.
    static func write(_ value: UInt64, into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        let table = digits.utf8Start
        var shift: UInt64 = 60
        for index in 0..<16 {
            out[offset + index] = table[Int((value >> shift) & 0xF)]
            shift &-= 4
        }
    }

    /// Appends 16 hex digits of `value` to `buffer`.
    static func write(_ value: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeDirectly(minimumWritableBytes: 16) { raw in
            let out = UnsafeMutableBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: 16)
            write(value, into: out, at: 0)
            return 16
        }
    }
}

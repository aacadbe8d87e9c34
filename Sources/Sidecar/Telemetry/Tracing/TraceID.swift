/// A 128-bit trace id (W3C trace context and B3), as two big-endian halves. All-zero is invalid.
struct TraceID: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Whether this id may be propagated (the all-zero id is invalid in both formats).
    var isValid: Bool { high != 0 || low != 0 }

    /// 32 lowercase hex digits.
    var hex: String { TraceHex.string(high, low) }

    /// The 16 bytes of the id, big-endian (OTLP `trace_id`).
    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            out[index] = UInt8(truncatingIfNeeded: high >> UInt64(56 - index * 8))
            out[8 + index] = UInt8(truncatingIfNeeded: low >> UInt64(56 - index * 8))
        }
        return out
    }
}

import NIOCore

/// The gRPC `grpc-timeout` header (gRPC over HTTP/2 spec): 1 to 8 ASCII digits and a unit,
/// `H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds, `n` nanoseconds.
enum GRPCTimeout {
    /// The duration `value` stands for, or nil when it is not a valid `grpc-timeout`.
    static func parse(_ value: String) -> TimeAmount? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 2, bytes.count <= 9, let unit = bytes.last else { return nil }
        var amount: Int64 = 0
        for digit in bytes.dropLast() {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .hours(amount)
        case UInt8(ascii: "M"): return .minutes(amount)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// `amount` as a `grpc-timeout` value in the finest unit that fits 8 digits (rounded down,
    /// never below 1 ns: a deadline already passed still goes out as the smallest timeout).
    static func format(_ amount: TimeAmount) -> String {
        let nanoseconds = max(1, amount.nanoseconds)
        let units: [(divisor: Int64, unit: String)] = [
            (1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"), (60_000_000_000, "M"), (3_600_000_000_000, "H"),
        ]
        for (divisor, unit) in units {
            let value = nanoseconds / divisor
            if value <= 99_999_999 { return "\(max(1, value))\(unit)" }
        }
        return "99999999H"
    }
}

import NIOCore

/// The duration syntax of the config file, in both directions.
///
/// Accepted: one or more `<number><unit>` parts, e.g. `250ms`, `1s`, `2m`, `1h`, `1m30s`, `1.5s`,
/// `0s`; units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`. Negative durations and bare numbers are
/// rejected. Rendering uses the largest unit that represents the value exactly.
public enum ConfigDuration {
    private static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("ns", 1), ("us", 1_000), ("\u{00B5}s", 1_000), ("\u{03BC}s", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// Parses `250ms`, `1s`, `1m30s`, ...; nil when the text is not a duration (or overflows).
    public static func parse(_ text: String) -> TimeAmount? {
        let scalars = Array(text.unicodeScalars)
        guard !scalars.isEmpty else { return nil }
        var index = 0
        var total: Int64 = 0
        while index < scalars.count {
            // Number: digits, optionally "." and more digits.
            var whole = ""
            var fraction = ""
            while index < scalars.count, ("0"..."9").contains(scalars[index]) {
                whole.unicodeScalars.append(scalars[index])
                index += 1
            }
            if index < scalars.count, scalars[index] == "." {
                index += 1
                while index < scalars.count, ("0"..."9").contains(scalars[index]) {
                    fraction.unicodeScalars.append(scalars[index])
                    index += 1
                }
                guard !fraction.isEmpty else { return nil }
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            // Unit: letters up to the next digit.
            var unitText = ""
            while index < scalars.count, !("0"..."9").contains(scalars[index]), scalars[index] != "." {
                unitText.unicodeScalars.append(scalars[index])
                index += 1
            }
            guard let unit = units.first(where: { $0.suffix == unitText })?.nanoseconds else { return nil }
            guard let part = amount(whole: whole, fraction: fraction, unit: unit) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
            total = sum
        }
        return .nanoseconds(total)
    }

    /// `whole.fraction × unit` in nanoseconds, nil on overflow or if not a whole number of nanoseconds.
    private static func amount(whole: String, fraction: String, unit: Int64) -> Int64? {
        var value: Int64 = 0
        for digit in whole.utf8 {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(Int64(digit - 48))
            guard !o1, !o2 else { return nil }
            value = next
        }
        let (scaled, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        var result = scaled
        var place = unit
        for digit in fraction.utf8 {
            let d = Int64(digit - 48)
            guard place % 10 == 0 else {
                if d != 0 { return nil }  // finer than a nanosecond
                continue
            }
            place /= 10
            let (sum, o) = result.addingReportingOverflow(d * place)
            guard !o else { return nil }
            result = sum
        }
        return result
    }

    /// Renders with the largest exact unit: `.milliseconds(250)` → `"250ms"`, `.seconds(3600)` →
    /// `"1h"`, `.zero` → `"0s"`, `.milliseconds(1500)` → `"1500ms"`.
    public static func format(_ amount: TimeAmount) -> String {
        let ns = amount.nanoseconds
        if ns == 0 { return "0s" }
        let sign = ns < 0 ? "-" : ""
        let magnitude = ns.magnitude
        for (suffix, unit) in [("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
                               ("ms", 1_000_000), ("us", 1_000)] as [(String, UInt64)]
        where magnitude % unit == 0 {
            return "\(sign)\(magnitude / unit)\(suffix)"
        }
        return "\(sign)\(magnitude)ns"
    }
}

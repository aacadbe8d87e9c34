/// The size syntax of the config file: `512B`, `64KiB`, `1MiB`, `1GiB`, or a plain integer
/// number of bytes (in YAML, an unquoted integer).
public enum ConfigSize {
    private static let units: [(suffix: String, bytes: Int)] = [
        ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1),
    ]

    /// Parses `64KiB` and friends (a whole number before the unit), or digits alone as bytes;
    /// nil when the text is not a size or overflows.
    public static func parse(_ text: String) -> Int? {
        var number = Substring(text)
        var multiplier = 1
        if let unit = units.first(where: { text.hasSuffix($0.suffix) }) {
            number = number.dropLast(unit.suffix.count)
            multiplier = unit.bytes
        }
        guard !number.isEmpty, number.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let value = Int(number)
        else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }
}

/// Writes Prometheus text exposition format (version 0.0.4) for the per-loop metrics.
struct PrometheusTextWriter {
    private(set) var output: [UInt8] = []

    init() {
        output.reserveCapacity(16 * 1024)
    }

    mutating func header(_ name: String, type: String, help: String) {
        append("# HELP \(name) \(help)\n# TYPE \(name) \(type)\n")
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        append(name)
        if !labels.isEmpty {
            append("{")
            for (index, (key, labelValue)) in labels.enumerated() {
                if index > 0 { append(",") }
                append(key)
                append("=\"")
                append(Self.escape(labelValue))
                append("\"")
            }
            append("}")
        }
        append(" ")
        append(Self.format(value))
        append("\n")
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Int) {
        sample(name, labels, Double(value))
    }

    mutating func append(_ text: String) {
        output.append(contentsOf: text.utf8)
    }

    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else {
            return value
        }
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    static func format(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

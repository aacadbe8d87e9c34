import Yams

/// The YAML 1.1 type of a scalar, as far as the config reader needs it: null, integer, float or
/// anything else. It gives the same answers as Yams' default `Resolver` (the rules
/// `Resolver.Rule.int`, `.float` and `.null`, int taking precedence over float), without its
/// regular expressions.
///
/// Why: the default `Resolver` matches every plain scalar against `NSRegularExpression`s, so
/// parsing the config compiled ICU regular expressions at start-up, which kept ICU's and
/// Foundation's regex code and ICU's Unicode data resident for the life of the process (~1.5 MiB
/// of RSS per sidecar, measured). `ConfigParser` therefore composes with `Resolver.basic`, under
/// which every untagged scalar is a string, and `ConfigNodeReader` asks this type instead.
///
/// Explicit tags (`!!int 5`, `!!null ''`) are honoured. The one difference from the default
/// resolver: under `Resolver.basic` an explicit `!!str` on a plain scalar cannot be told from no
/// tag, so `!!str 5` reads as the integer 5 (quoted `'5'` and `"5"` stay strings).
enum YAMLScalarKind: Equatable {
    case null, int, float, other

    static func of(_ node: Node) -> YAMLScalarKind {
        guard case .scalar(let scalar) = node else { return .other }
        switch node.tag.rawValue {
        case Tag.Name.null.rawValue: return .null
        case Tag.Name.int.rawValue: return .int
        case Tag.Name.float.rawValue: return .float
        case Tag.Name.str.rawValue where scalar.style == .plain || scalar.style == .any:
            return of(plain: scalar.string)
        default: return .other
        }
    }

    /// The kind of an untagged plain scalar with this text.
    static func of(plain text: String) -> YAMLScalarKind {
        let bytes = Array(text.utf8)
        if isInt(bytes[...]) { return .int }
        if isFloat(bytes[...]) { return .float }
        if isNull(bytes) { return .null }
        return .other
    }

    // MARK: Rules (each comment is the alternative of Yams' pattern it implements)

    private typealias Bytes = ArraySlice<UInt8>

    private static func isNull(_ b: [UInt8]) -> Bool {
        // ~ | null | Null | NULL | (empty)
        b.isEmpty || b == [UInt8(ascii: "~")] || b == Array("null".utf8) || b == Array("Null".utf8)
            || b == Array("NULL".utf8)
    }

    private static func isInt(_ text: Bytes) -> Bool {
        let b = dropSign(text)
        guard let first = b.first else { return false }
        if first == UInt8(ascii: "0"), b.count >= 2 {
            let second = b[b.startIndex + 1]
            let rest = b.dropFirst(2)
            switch second {
            case UInt8(ascii: "b"):  // [-+]?0b[0-1_]+
                return !rest.isEmpty && rest.allSatisfy { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") || $0 == underscore }
            case UInt8(ascii: "x"):  // [-+]?0x[0-9a-fA-F_]+
                return !rest.isEmpty && rest.allSatisfy { isHexDigit($0) || $0 == underscore }
            case UInt8(ascii: "o"):  // [-+]?0o?[0-7_]+ (with the o)
                return !rest.isEmpty && rest.allSatisfy(isOctalOrUnderscore)
            default:  // [-+]?0o?[0-7_]+ (without the o)
                return b.dropFirst().allSatisfy(isOctalOrUnderscore)
            }
        }
        if first == UInt8(ascii: "0") { return true }  // [-+]?(?:0|...)
        // [-+]?[1-9][0-9_]* and [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
        guard isDigit(first) else { return false }
        let head = b.prefix { $0 != colon }
        guard head.allSatisfy({ isDigit($0) || $0 == underscore }) else { return false }
        return head.count == b.count || isSexagesimalTail(b[head.endIndex...])
    }

    private static func isFloat(_ text: Bytes) -> Bool {
        // \.(?:nan|NaN|NAN)
        if ["nan", "NaN", "NAN"].contains(where: { text.elementsEqual(".\($0)".utf8) }) { return true }
        let unsigned = dropSign(text)
        // [-+]?\.(?:inf|Inf|INF)
        if ["inf", "Inf", "INF"].contains(where: { unsigned.elementsEqual(".\($0)".utf8) }) { return true }
        guard let first = unsigned.first else { return false }
        if first == dot {
            // \.[0-9_]+(?:[eE][-+][0-9]+)?  (no sign before the dot, a sign required in the exponent)
            guard unsigned.count == text.count else { return false }
            let fraction = unsigned.dropFirst().prefix { isDigit($0) || $0 == underscore }
            guard !fraction.isEmpty else { return false }
            let exponent = unsigned[fraction.endIndex...]
            return exponent.isEmpty || isExponent(exponent, signRequired: true)
        }
        guard isDigit(first) else { return false }
        let whole = unsigned.prefix { isDigit($0) || $0 == underscore }
        var rest = unsigned[whole.endIndex...]
        if rest.first == colon {
            // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
            guard let dotIndex = rest.firstIndex(of: dot), isSexagesimalTail(rest[..<dotIndex]) else { return false }
            return rest[(dotIndex + 1)...].allSatisfy { isDigit($0) || $0 == underscore }
        }
        // [-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
        if rest.first == dot {
            rest = rest.dropFirst().drop { isDigit($0) || $0 == underscore }
        }
        return rest.isEmpty || isExponent(rest, signRequired: false)
    }

    /// (?::[0-5]?[0-9])+
    private static func isSexagesimalTail(_ b: Bytes) -> Bool {
        guard b.first == colon else { return false }
        for group in b.dropFirst().split(separator: colon, omittingEmptySubsequences: false) {
            switch group.count {
            case 1: guard isDigit(group[group.startIndex]) else { return false }
            case 2:
                let tens = group[group.startIndex]
                guard tens >= UInt8(ascii: "0"), tens <= UInt8(ascii: "5"), isDigit(group[group.startIndex + 1]) else {
                    return false
                }
            default: return false
            }
        }
        return true
    }

    /// [eE][-+]?[0-9]+ (or [eE][-+][0-9]+)
    private static func isExponent(_ b: Bytes, signRequired: Bool) -> Bool {
        guard let e = b.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") else { return false }
        let afterE = b.dropFirst()
        let digits = dropSign(afterE)
        if signRequired && digits.count == afterE.count { return false }
        return !digits.isEmpty && digits.allSatisfy(isDigit)
    }

    private static func dropSign(_ b: Bytes) -> Bytes {
        if let first = b.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") { return b.dropFirst() }
        return b
    }

    private static let underscore = UInt8(ascii: "_")
    private static let colon = UInt8(ascii: ":")
    private static let dot = UInt8(ascii: ".")

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func isOctalOrUnderscore(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "7")) || c == underscore
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
}

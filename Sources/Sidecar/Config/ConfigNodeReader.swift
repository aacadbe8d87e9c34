import Foundation
import NIOCore
import Yams

/// Reads typed values out of a Yams `Node` tree and collects a `ConfigProblem` for everything
/// it cannot read, instead of stopping at the first. Used by `ConfigParser`.
///
/// Rules: a `null` value counts as a key left out; every path with a problem is remembered in
/// `badPaths` so that later cross-checks stay quiet about values that were never read.
final class ConfigNodeReader {
    private(set) var problems: [ConfigProblem] = []
    /// Paths (and so everything below them) that already have a problem.
    private(set) var badPaths: Set<String> = []
    /// Key paths that were present (non-null) in the file.
    private(set) var presentPaths: Set<String> = []

    /// Upper bound on the mappings visited through `<<` merge keys for one mapping (alias bombs).
    private let maxMergeVisits = 1_000

    func fail(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path: path, message: message))
        badPaths.insert(path)
    }

    static func join(_ base: String, _ key: String) -> String {
        base.isEmpty ? key : "\(base).\(key)"
    }

    static func index(_ base: String, _ index: Int) -> String {
        "\(base)[\(index)]"
    }

    static func isNull(_ node: Node) -> Bool {
        YAMLScalarKind.of(node) == .null
    }

    // MARK: Mappings

    /// The mapping's values by key, after `<<` merge keys; unknown keys are reported, null values
    /// are dropped. Nil (with a problem) when `node` is not a mapping.
    func fields(_ node: Node, at path: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            fail(path, "expected a mapping with keys \(allowed.joined(separator: ", "))")
            return nil
        }
        var pairs: [(key: String, value: Node)] = []
        var visits = 0
        guard flatten(mapping, at: path, into: &pairs, visits: &visits) else { return nil }
        var result: [String: Node] = [:]
        for (key, value) in pairs where result[key] == nil {
            let keyPath = Self.join(path, key)
            guard allowed.contains(key) else {
                fail(keyPath, "unknown key")
                continue
            }
            if Self.isNull(value) { continue }
            result[key] = value
            presentPaths.insert(keyPath)
        }
        return result
    }

    /// Explicit keys first, then merged ones, so that the first occurrence of a key wins.
    private func flatten(_ mapping: Node.Mapping, at path: String, into pairs: inout [(key: String, value: Node)],
                         visits: inout Int) -> Bool {
        var merges: [Node] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                fail(path, "keys must be plain strings")
                return false
            }
            if key.string == "<<", key.style == .plain || key.style == .any {
                merges.append(value)
            } else {
                pairs.append((key.string, value))
            }
        }
        for merge in merges {
            let sources: [Node]
            switch merge {
            case .mapping: sources = [merge]
            case .sequence(let sequence): sources = Array(sequence)
            default:
                fail(path, "a merge key (<<) must refer to a mapping or a list of mappings")
                return false
            }
            for source in sources {
                guard case .mapping(let inner) = source else {
                    fail(path, "a merge key (<<) must refer to a mapping or a list of mappings")
                    return false
                }
                visits += 1
                guard visits <= maxMergeVisits else {
                    fail(path, "merge keys (<<) nest too deeply")
                    return false
                }
                guard flatten(inner, at: path, into: &pairs, visits: &visits) else { return false }
            }
        }
        return true
    }

    /// Elements of a list; nil (with a problem) when `node` is not a list.
    func list(_ node: Node, at path: String, of what: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            fail(path, "expected a list of \(what)")
            return nil
        }
        return Array(sequence)
    }

    // MARK: Scalars

    /// Any scalar's text (quoted or not, so `off` and `123` are strings too).
    func string(_ node: Node, at path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            fail(path, "expected a string")
            return nil
        }
        return scalar.string
    }

    /// A non-empty string without control characters.
    func nonEmptyString(_ node: Node, at path: String) -> String? {
        guard let text = string(node, at: path) else { return nil }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            fail(path, "must not be empty")
            return nil
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            fail(path, "must not contain control characters")
            return nil
        }
        return text
    }

    /// An unquoted YAML integer (a JSON number without fraction).
    func int(_ node: Node, at path: String) -> Int? {
        guard case .scalar(let scalar) = node, YAMLScalarKind.of(node) == .int,
              let value = Int.construct(from: scalar)
        else {
            fail(path, "expected an integer")
            return nil
        }
        return value
    }

    /// An unquoted YAML integer or float.
    func double(_ node: Node, at path: String) -> Double? {
        let kind = YAMLScalarKind.of(node)
        guard case .scalar(let scalar) = node, kind == .int || kind == .float,
              let value = kind == .int ? Int.construct(from: scalar).map(Double.init)
                : Double.construct(from: scalar)
        else {
            fail(path, "expected a number")
            return nil
        }
        return value
    }

    func duration(_ node: Node, at path: String) -> TimeAmount? {
        guard case .scalar(let scalar) = node, let value = ConfigDuration.parse(scalar.string) else {
            fail(path, "expected a duration like \"25ms\"")
            return nil
        }
        return value
    }

    func size(_ node: Node, at path: String) -> Int? {
        guard case .scalar(let scalar) = node, let value = ConfigSize.parse(scalar.string) else {
            fail(path, "expected a size like \"64KiB\" or a number of bytes")
            return nil
        }
        return value
    }

    func address(_ node: Node, at path: String) -> SocketAddressSpec? {
        guard case .scalar(let scalar) = node, let value = SocketAddressSpec.parse(scalar.string) else {
            fail(path, "expected an address like \"127.0.0.1:8080\"")
            return nil
        }
        return value
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, at path: String, as type: E.Type) -> E?
    where E.RawValue == String {
        guard case .scalar(let scalar) = node, let value = E(rawValue: scalar.string) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            fail(path, "expected one of: \(allowed)")
            return nil
        }
        return value
    }

    // MARK: Keyed helpers

    /// Reads `fields[key]` with `read` when present; nil when absent or unreadable.
    func value<T>(_ fields: [String: Node], _ key: String, in base: String,
                  _ read: (Node, String) -> T?) -> T? {
        guard let node = fields[key] else { return nil }
        return read(node, Self.join(base, key))
    }

    /// Like `value`, but reports `required` when the key is missing.
    func required<T>(_ fields: [String: Node], _ key: String, in base: String,
                     _ read: (Node, String) -> T?) -> T? {
        guard fields[key] != nil else {
            fail(Self.join(base, key), "required")
            return nil
        }
        return value(fields, key, in: base, read)
    }

    /// Each element of the list at `fields[key]` read with `read`; nil when absent or not a list.
    /// Unreadable elements are left out (and reported).
    func listValue<T>(_ fields: [String: Node], _ key: String, in base: String, of what: String,
                      _ read: (Node, String) -> T?) -> [T]? {
        guard let node = fields[key] else { return nil }
        let path = Self.join(base, key)
        guard let elements = list(node, at: path, of: what) else { return nil }
        var values: [T] = []
        for (i, element) in elements.enumerated() {
            if let value = read(element, Self.index(path, i)) { values.append(value) }
        }
        // Indices no longer match the file: keep cross-checks away from this list.
        if values.count != elements.count { badPaths.insert(path) }
        return values
    }
}

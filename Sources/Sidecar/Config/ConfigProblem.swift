/// One thing wrong with a config file: where (`path`, e.g. `clusters[1].retries.backoff.base`)
/// and what (`message`, e.g. `expected a duration like "25ms"`).
///
/// `path` is empty for problems with the document as a whole (unreadable file, YAML syntax,
/// a top-level value that is not a mapping); `description` is then the message alone.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    /// Dotted key path with `[index]` for list elements, as written in the file.
    public var path: String
    /// What is wrong, in words meant for the operator.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `PATH: message` (or just `message` when `path` is empty).
    public var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }
}

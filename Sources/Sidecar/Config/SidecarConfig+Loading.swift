import Foundation

extension SidecarConfig {
    /// Parses and validates config text (YAML, or JSON since JSON is YAML).
    ///
    /// Every problem is collected: shape, unknown keys, types and formats first (in file order),
    /// then ranges and cross-field rules. Never traps on any input.
    ///
    /// - Throws: `ConfigError` (only) with at least one problem when the config is not valid.
    public static func parse(yaml: String) throws(ConfigError) -> SidecarConfig {
        let outcome = ConfigParser().parse(yaml: yaml)
        let validator = ConfigValidator(config: outcome.config, badPaths: outcome.badPaths,
                                        presentPaths: outcome.presentPaths)
        let problems = outcome.problems + validator.validate()
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return outcome.config
    }

    /// Reads the file at `path` and parses it with `parse(yaml:)`.
    ///
    /// - Throws: `ConfigError` (only): for an unreadable or non-UTF-8 file a single problem whose
    ///   `path` is empty and whose message names the file; otherwise the problems of `parse(yaml:)`.
    public static func load(path: String) throws(ConfigError) -> SidecarConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason: String
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                reason = "no such file"
            } else if isDirectory.boolValue {
                reason = "is a directory"
            } else {
                reason = "not readable"
            }
            throw ConfigError(problems: [ConfigProblem(path: "", message: "cannot read config file \(path): \(reason)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(problems: [ConfigProblem(path: "", message: "config file \(path) is not UTF-8 text")])
        }
        return try parse(yaml: text)
    }

    /// The problems of a config built in code (ranges and cross-field rules); empty when valid.
    /// `parse(yaml:)` runs the same checks.
    public func validationProblems() -> [ConfigProblem] {
        ConfigValidator(config: self).validate()
    }
}

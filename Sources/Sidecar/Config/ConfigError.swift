/// Every problem found in a config file. Thrown by `SidecarConfig.parse(yaml:)` and
/// `SidecarConfig.load(path:)`; never empty when thrown.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// In file order for shape and type problems, followed by cross-field problems.
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    /// One problem per line, each as `PATH: message`.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

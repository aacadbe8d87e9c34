/// A failure to start (CONTRACT section 1, exit code 2): one clear line naming the file or port.
public struct StartupError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Why an identity (certificate, key, trust bundle) could not be loaded. The description is one
/// line naming the file, suitable for stderr at start-up (CONTRACT section 1, exit code 2).
public struct TLSIdentityError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case missingFile = "missing"
        case unreadableFile = "unreadable"
        case noCertificate = "no certificate"
        case noPrivateKey = "no private key"
        case keyMismatch = "key does not match certificate"
        case expired = "expired"
        case notYetValid = "not yet valid"
        case badSPIFFEID = "bad SPIFFE ID"
        case untrusted = "not trusted by bundle"
        case openSSL = "OpenSSL failure"
    }

    public let kind: Kind
    /// The file the problem is about.
    public let path: String
    public let detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
}

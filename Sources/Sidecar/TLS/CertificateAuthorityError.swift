/// Why a mesh CA could not be created or could not issue a certificate. One line naming the file.
public enum CertificateAuthorityError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidArgument(String)
    case alreadyExists(path: String)
    case caUnusable(path: String, detail: String)
    case writeFailed(path: String, detail: String)
    case openSSL(String, String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): return message
        case .alreadyExists(let path): return "\(path): already exists; refusing to overwrite a CA"
        case .caUnusable(let path, let detail): return "\(path): \(detail)"
        case .writeFailed(let path, let detail): return "\(path): cannot write: \(detail)"
        case .openSSL(let call, let detail): return "OpenSSL \(call): \(detail)"
        }
    }
}

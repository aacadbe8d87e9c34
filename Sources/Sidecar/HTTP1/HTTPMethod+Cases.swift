import NIOHTTP1

/// Method checks and names without `rawValue`.
///
/// `HTTPMethod` is `RawRepresentable`, so `method == .HEAD` compares two `rawValue` strings, each
/// built by a switch over the whole enum: nine of them per proxied request, found by the profile.
/// These look at the enum's case instead.
extension HTTPMethod {
    var isHEAD: Bool {
        if case .HEAD = self { return true }
        return false
    }

    var isCONNECT: Bool {
        if case .CONNECT = self { return true }
        return false
    }

    /// The method's name for the common methods, without building a `String`.
    var staticName: StaticString? {
        switch self {
        case .GET: return "GET"
        case .HEAD: return "HEAD"
        case .POST: return "POST"
        case .PUT: return "PUT"
        case .DELETE: return "DELETE"
        case .OPTIONS: return "OPTIONS"
        case .PATCH: return "PATCH"
        default: return nil
        }
    }
}

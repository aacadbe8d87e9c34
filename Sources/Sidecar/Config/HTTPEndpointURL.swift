/// A plain-HTTP endpoint URL, `http://host:port/path`, as used by `tracing.otlp.endpoint`.
public struct HTTPEndpointURL: Sendable, Hashable, CustomStringConvertible {
    /// The address to connect to (an IPv6 host is stored without brackets).
    public var address: SocketAddressSpec
    /// Starts with `/`; may carry a query.
    public var path: String

    public init(address: SocketAddressSpec, path: String) {
        self.address = address
        self.path = path
    }

    public var description: String { "http://\(address)\(path)" }

    /// Why a URL was rejected, in words for `ConfigProblem.message`.
    public enum ParseFailure: Error, Sendable, Equatable {
        case httpsNotSupported
        case malformed
    }

    /// Parses `http://host:port/path`; the port and a path are both required.
    public static func parse(_ text: String) -> Result<HTTPEndpointURL, ParseFailure> {
        if text.lowercased().hasPrefix("https://") { return .failure(.httpsNotSupported) }
        guard text.hasPrefix("http://") else { return .failure(.malformed) }
        let rest = text.dropFirst("http://".count)
        guard let slash = rest.firstIndex(of: "/") else { return .failure(.malformed) }
        let authority = String(rest[..<slash])
        let path = String(rest[slash...])
        guard let address = SocketAddressSpec.parse(authority), address.port > 0,
              !path.contains("#"), !path.unicodeScalars.contains(where: { $0.value <= 32 || $0.value == 127 })
        else { return .failure(.malformed) }
        return .success(HTTPEndpointURL(address: address, path: path))
    }
}

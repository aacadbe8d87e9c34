/// An outbound listener's routes, compiled for matching: first match wins (CONTRACT section 2).
///
/// A route's host is exact (`payments`) or a suffix (`*.example` matches `a.example` and
/// `a.b.example`, not `example`); no host is a catch-all. Matching is case-insensitive on the host
/// (the caller passes it lowercased, without port) and a plain prefix test on the path.
struct RouteTable: Sendable {
    struct Route: Sendable {
        enum HostMatch: Sendable {
            case any
            case exact(String)
            case suffix(String)  // includes the leading dot
        }
        var host: HostMatch
        var pathPrefix: String?
        var clusterIndex: Int
    }

    private(set) var routes: [Route]

    init(_ configs: [RouteConfig], clusterIndex: (String) -> Int?) {
        routes = configs.compactMap { config in
            guard let index = clusterIndex(config.cluster) else { return nil }
            let host: Route.HostMatch
            if let name = config.host?.lowercased() {
                host = name.hasPrefix("*.") ? .suffix(String(name.dropFirst())) : .exact(name)
            } else {
                host = .any
            }
            let prefix = (config.pathPrefix == "/" ? nil : config.pathPrefix)
            return Route(host: host, pathPrefix: prefix, clusterIndex: index)
        }
    }

    /// The cluster index of the first route matching a request's `Host` (or `:authority`) and
    /// target. The host is normalised and the path cut from the query only when a route looks at
    /// them (a table of catch-all routes, the common case, costs nothing per request).
    func match(authority: @autoclosure () -> String, uri: String) -> Int? {
        var host: Substring?
        var path: Substring?
        for route in routes {
            switch route.host {
            case .any:
                break
            case .exact(let name):
                host = host ?? Self.normalizedHost(authority())
                guard host!.elementsEqual(name.utf8Lazy) else { continue }
            case .suffix(let suffix):
                host = host ?? Self.normalizedHost(authority())
                guard host!.utf8.count > suffix.utf8.count, host!.utf8.hasSuffixBytes(suffix.utf8) else { continue }
            }
            if let prefix = route.pathPrefix {
                path = path ?? uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { Substring(uri.utf8[..<$0]) } ?? Substring(uri)
                guard path!.utf8.starts(with: prefix.utf8) else { continue }
            }
            return route.clusterIndex
        }
        return nil
    }

    /// Splits a `Host` / `:authority` value into a lowercased host without the port.
    static func normalizedHost(_ authority: String) -> Substring {
        // Byte offsets, not `Character`s: a grapheme walk of every Host header is costly.
        let utf8 = authority.utf8
        var end = utf8.endIndex
        var hasUppercase = false
        if utf8.first == UInt8(ascii: "[") {
            if let close = utf8.firstIndex(of: UInt8(ascii: "]")) { end = utf8.index(after: close) }
        } else if let colon = utf8.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        for byte in utf8[..<end] where byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
            hasUppercase = true
            break
        }
        let host = authority[..<end]
        return hasUppercase ? Substring(host.lowercased()) : host
    }
}

extension String {
    fileprivate var utf8Lazy: String.UTF8View { utf8 }
}

extension Substring {
    fileprivate func elementsEqual(_ other: String.UTF8View) -> Bool {
        utf8.elementsEqual(other)
    }
}

extension Substring.UTF8View {
    fileprivate func hasSuffixBytes(_ suffix: String.UTF8View) -> Bool {
        let count = suffix.count
        return self.suffix(count).elementsEqual(suffix)
    }
}

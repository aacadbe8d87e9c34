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

    /// The cluster index of the first route matching `host` (lowercased, without port) and `path`.
    func match(host: Substring, path: Substring) -> Int? {
        for route in routes {
            switch route.host {
            case .any: break
            case .exact(let name):
                guard host.elementsEqual(name.utf8Lazy) else { continue }
            case .suffix(let suffix):
                guard host.utf8.count > suffix.utf8.count, host.utf8.hasSuffixBytes(suffix.utf8) else { continue }
            }
            if let prefix = route.pathPrefix, !path.utf8.starts(with: prefix.utf8) {
                continue
            }
            return route.clusterIndex
        }
        return nil
    }

    /// Splits a `Host` / `:authority` value into a lowercased host without the port.
    static func normalizedHost(_ authority: String) -> Substring {
        var host = Substring(authority)
        if host.first == "[" {
            if let close = host.firstIndex(of: "]") {
                host = host[host.startIndex...close]
            }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
            return Substring(host.lowercased())
        }
        return host
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

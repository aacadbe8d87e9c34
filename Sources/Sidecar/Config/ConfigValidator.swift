import Foundation
import NIOCore

/// Ranges and cross-field rules on a typed `SidecarConfig`: names, duplicates, ports,
/// references between routes and clusters, TLS and identity requirements.
///
/// Problems at or below a path in `badPaths` (already reported by the parser) are dropped, so a
/// value that could not be read does not cause a second, confusing problem.
struct ConfigValidator {
    let config: SidecarConfig
    var badPaths: Set<String> = []
    /// Key paths present in the file; used only to say "(the default)" in messages.
    var presentPaths: Set<String>? = nil

    private final class Collector {
        var problems: [ConfigProblem] = []
    }
    private let out = Collector()

    init(config: SidecarConfig, badPaths: Set<String> = [], presentPaths: Set<String>? = nil) {
        self.config = config
        self.badPaths = badPaths
        self.presentPaths = presentPaths
    }

    func validate() -> [ConfigProblem] {
        // The document itself was unreadable: there is nothing meaningful to cross-check.
        guard !badPaths.contains("") else { return [] }
        checkTopLevel()
        checkListeners()
        checkRoutes()
        checkClusters()
        checkTLSAndIdentity()
        checkTracing()
        checkLimits()
        return out.problems
    }

    // MARK: Reporting

    private func isBad(_ path: String) -> Bool {
        if badPaths.contains(path) { return true }
        var end = path.endIndex
        while let cut = path[..<end].lastIndex(where: { $0 == "." || $0 == "[" }) {
            if badPaths.contains(String(path[..<cut])) { return true }
            end = cut
        }
        return false
    }

    private func report(_ path: String, _ message: String) {
        guard !isBad(path) else { return }
        out.problems.append(ConfigProblem(path: path, message: message))
    }

    private func check<T: Comparable>(_ value: T, in range: ClosedRange<T>, _ path: String) {
        if !range.contains(value) { report(path, "must be in \(range.lowerBound)...\(range.upperBound)") }
    }

    private func check(_ value: Double, in range: ClosedRange<Double>, _ path: String) {
        if !(value.isFinite && range.contains(value)) {
            report(path, "must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
    }

    private func checkNonNegative(_ value: TimeAmount, _ path: String) {
        if value < .zero { report(path, "must not be negative") }
    }

    private func checkPositive(_ value: TimeAmount, _ path: String) {
        if value <= .zero { report(path, "must be longer than 0s") }
    }

    private func checkName(_ name: String, _ path: String) {
        let valid = ConfigBounds.nameLength.contains(name.count) && name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "." || $0 == "_"
                || $0 == "-"
        }
        if !valid {
            report(path, "expected 1 to \(ConfigBounds.nameLength.upperBound) letters, digits, \".\", \"_\" or \"-\"")
        }
    }

    private func checkSPIFFEIDs(_ ids: [String], _ path: String) {
        for (i, id) in ids.enumerated() where !Self.isSPIFFEID(id) {
            report("\(path)[\(i)]", "expected a SPIFFE ID like \"spiffe://mesh.local/ns/default/sa/orders\"")
        }
    }

    /// `spiffe://TRUST-DOMAIN[/path]`: a non-empty trust domain of lowercase letters, digits,
    /// `.`, `-`, `_`; path segments non-empty; no query or fragment.
    static func isSPIFFEID(_ id: String) -> Bool {
        guard id.hasPrefix("spiffe://") else { return false }
        let rest = id.dropFirst("spiffe://".count)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let domain = parts.first, !domain.isEmpty,
              domain.unicodeScalars.allSatisfy({
                  ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" || $0 == "_"
              })
        else { return false }
        return parts.dropFirst().allSatisfy { segment in
            !segment.isEmpty && segment != "." && segment != ".."
                && segment.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
                }
        }
    }

    private func wasGiven(_ path: String) -> Bool {
        presentPaths?.contains(path) ?? true
    }

    // MARK: Checks

    private func checkTopLevel() {
        if config.service.trimmingCharacters(in: .whitespaces).isEmpty { report("service", "must not be empty") }
        if config.inbound.isEmpty && config.outbound.isEmpty && !isBad("inbound") && !isBad("outbound") {
            report("", "at least one listener is required (\"inbound\" or \"outbound\")")
        }
        checkNonNegative(config.drainTimeout, "drainTimeout")
        if let identity = config.identity {
            for (key, value) in [("certificate", identity.certificate), ("privateKey", identity.privateKey),
                                 ("trustBundle", identity.trustBundle)] where value.isEmpty {
                report("identity.\(key)", "must not be empty")
            }
            checkPositive(identity.reloadInterval, "identity.reloadInterval")
        }
        checkSPIFFEIDs(config.admin.allow, "admin.allow")
        check(config.admin.listen.port, in: ConfigBounds.listenPort, "admin.listen")
        if !config.admin.listen.isLoopback && (config.admin.tls != .mutual || config.admin.allow.isEmpty) {
            report("admin.listen", "binding the admin API to a non-loopback address requires admin.tls: mutual and a non-empty admin.allow")
        }
        if config.admin.tls == .disabled && !config.admin.allow.isEmpty {
            report("admin.allow", "has no effect without admin.tls: mutual")
        }
    }

    private func checkListeners() {
        var names: [String: String] = [:]  // name -> path of its first use
        var addresses: [(SocketAddressSpec, String)] = [(config.admin.listen, "admin.listen")]
        func claim(name: String, _ path: String) {
            checkName(name, "\(path).name")
            if let first = names[name] {
                report("\(path).name", "duplicate listener name \"\(name)\" (also \(first).name)")
            } else if !isBad("\(path).name") {
                names[name] = path
            }
        }
        func claim(address: SocketAddressSpec, _ path: String) {
            guard !isBad(path), address.port != 0 else { return }
            for (other, otherPath) in addresses where other.port == address.port && !isBad(otherPath) {
                let sameHost = other.host.lowercased() == address.host.lowercased() || other.isWildcard
                    || address.isWildcard
                if sameHost {
                    report(path, "\(address) is already used by \(otherPath)")
                    return
                }
            }
            addresses.append((address, path))
        }
        for (i, l) in config.inbound.enumerated() {
            let path = "inbound[\(i)]"
            claim(name: l.name, path)
            check(l.listen.port, in: ConfigBounds.listenPort, "\(path).listen")
            claim(address: l.listen, "\(path).listen")
            if !ConfigBounds.connectPort.contains(l.forwardTo.port) {
                report("\(path).forwardTo", "port must be in \(ConfigBounds.connectPort.lowerBound)...\(ConfigBounds.connectPort.upperBound)")
            }
            checkSPIFFEIDs(l.allow, "\(path).allow")
            if l.tls == .disabled && !l.allow.isEmpty {
                report("\(path).allow", "has no effect with tls: disabled (callers have no identity)")
            }
            checkNonNegative(l.timeouts.request, "\(path).timeouts.request")
            checkNonNegative(l.timeouts.idle, "\(path).timeouts.idle")
        }
        for (i, l) in config.outbound.enumerated() {
            let path = "outbound[\(i)]"
            claim(name: l.name, path)
            check(l.listen.port, in: ConfigBounds.listenPort, "\(path).listen")
            claim(address: l.listen, "\(path).listen")
            checkNonNegative(l.timeouts.request, "\(path).timeouts.request")
            checkNonNegative(l.timeouts.idle, "\(path).timeouts.idle")
        }
    }

    private func checkRoutes() {
        let clusterNames = Set(config.clusters.map(\.name))
        let clustersKnown = !isBad("clusters") && !config.clusters.indices.contains { isBad("clusters[\($0)].name") }
        for (i, l) in config.outbound.enumerated() {
            let base = "outbound[\(i)].routes"
            for (j, route) in l.routes.enumerated() {
                let path = "\(base)[\(j)]"
                if clustersKnown && !clusterNames.contains(route.cluster) {
                    report("\(path).cluster", "no cluster named \"\(route.cluster)\"")
                }
                if let host = route.host, !Self.isRouteHost(host) {
                    report("\(path).host", "expected a host name without port, exact or \"*.suffix\"")
                }
                if let prefix = route.pathPrefix, !prefix.hasPrefix("/") {
                    report("\(path).pathPrefix", "must start with \"/\"")
                }
                if let k = l.routes[..<j].indices.first(where: { !isBad("\(base)[\($0)]") && Self.covers(l.routes[$0], route) }) {
                    report(path, "unreachable: every request it matches is matched first by \(base)[\(k)]")
                }
            }
        }
    }

    static func isRouteHost(_ host: String) -> Bool {
        let name = host.hasPrefix("*.") ? host.dropFirst(2) : Substring(host)
        guard !name.isEmpty, !name.hasPrefix("."), !name.hasSuffix("."), !name.contains("..") else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
        }
    }

    /// True when every request `later` matches is matched by `earlier` (first match wins).
    static func covers(_ earlier: RouteConfig, _ later: RouteConfig) -> Bool {
        let hostCovered: Bool
        switch (earlier.host, later.host) {
        case (nil, _): hostCovered = true
        case (.some, nil): hostCovered = false
        case let (.some(e), .some(l)):
            if e == l {
                hostCovered = true
            } else if e.hasPrefix("*.") {
                // "*.example" matches "a.example" and "*.a.example", never "example" itself.
                let suffix = e.dropFirst(1)  // ".example"
                hostCovered = l.hasSuffix(suffix) && l.count > suffix.count
                    && !(l.hasPrefix("*") && l.dropFirst(1) == suffix)
            } else {
                hostCovered = false
            }
        }
        guard hostCovered else { return false }
        let e = earlier.pathPrefix ?? "/"
        let l = later.pathPrefix ?? "/"
        return l.hasPrefix(e)
    }

    private func checkClusters() {
        var names: [String: Int] = [:]
        for (i, c) in config.clusters.enumerated() {
            let path = "clusters[\(i)]"
            checkName(c.name, "\(path).name")
            if let first = names[c.name] {
                report("\(path).name", "duplicate cluster name \"\(c.name)\" (also clusters[\(first)].name)")
            } else if !isBad("\(path).name") {
                names[c.name] = i
            }
            if let serverName = c.tls.serverName, !SocketAddressSpec.isHostName(Substring(serverName)) {
                report("\(path).tls.serverName", "expected a DNS name")
            }
            checkSPIFFEIDs(c.tls.expectIdentity, "\(path).tls.expectIdentity")
            if c.tls.mode == .disabled {
                if !c.tls.expectIdentity.isEmpty {
                    report("\(path).tls.expectIdentity", "has no effect with tls.mode: disabled")
                }
                if c.tls.serverName != nil {
                    report("\(path).tls.serverName", "has no effect with tls.mode: disabled")
                }
                if c.protocol == .auto {
                    // Refused, as Envoy refuses `auto_config` without ALPN, rather than silently
                    // meaning HTTP/1.1.
                    report("\(path).protocol", "auto negotiates by TLS ALPN and needs tls.mode: mutual; use http1 or http2 (h2c) without TLS")
                }
            }
            var seen: [String: Int] = [:]
            for (j, e) in c.endpoints.enumerated() {
                let epath = "\(path).endpoints[\(j)]"
                if !ConfigBounds.connectPort.contains(e.address.port) {
                    report("\(epath).address", "port must be in \(ConfigBounds.connectPort.lowerBound)...\(ConfigBounds.connectPort.upperBound)")
                }
                check(e.weight, in: ConfigBounds.endpointWeight, "\(epath).weight")
                let key = e.address.description.lowercased()
                if let first = seen[key] {
                    report("\(epath).address", "duplicate endpoint \(e.address) (also \(path).endpoints[\(first)])")
                } else {
                    seen[key] = j
                }
            }
            if let header = c.loadBalancing.hashOnHeader, !Self.isHeaderName(header) {
                report("\(path).loadBalancing.hashOn.header", "expected an HTTP header name")
            }
            let t = c.timeouts
            for (key, value) in [("connect", t.connect), ("request", t.request), ("perTry", t.perTry), ("idle", t.idle)] {
                checkNonNegative(value, "\(path).timeouts.\(key)")
            }
            let r = c.retries
            let rpath = "\(path).retries"
            check(r.maxRetries, in: ConfigBounds.maxRetries, "\(rpath).maxRetries")
            for (j, code) in r.retriableStatusCodes.enumerated() {
                check(code, in: ConfigBounds.statusCode, "\(rpath).retriableStatusCodes[\(j)]")
            }
            for (j, condition) in r.retryOn.enumerated() where r.retryOn[..<j].contains(condition) {
                report("\(rpath).retryOn[\(j)]", "\"\(condition.rawValue)\" is listed twice")
            }
            checkPositive(r.backoff.base, "\(rpath).backoff.base")
            if r.backoff.base > r.backoff.max && !isBad("\(rpath).backoff.base") {
                report("\(rpath).backoff.max", "must not be shorter than backoff.base (\(ConfigDuration.format(r.backoff.base)))")
            }
            check(r.budget.ratio, in: ConfigBounds.budgetRatio, "\(rpath).budget.ratio")
            check(r.budget.minRetriesPerSecond, in: ConfigBounds.minRetriesPerSecond, "\(rpath).budget.minRetriesPerSecond")
            check(r.maxBufferedBody, in: ConfigBounds.maxBufferedBody, "\(rpath).maxBufferedBody")
            let cb = c.circuitBreaker
            let cbpath = "\(path).circuitBreaker"
            check(cb.maxConnections, in: ConfigBounds.circuitBreakerLimit, "\(cbpath).maxConnections")
            check(cb.maxRequests, in: ConfigBounds.circuitBreakerLimit, "\(cbpath).maxRequests")
            check(cb.maxPendingRequests, in: ConfigBounds.circuitBreakerQueue, "\(cbpath).maxPendingRequests")
            check(cb.maxRetries, in: ConfigBounds.circuitBreakerQueue, "\(cbpath).maxRetries")
            let od = c.outlierDetection
            let odpath = "\(path).outlierDetection"
            check(od.consecutive5xx, in: ConfigBounds.threshold, "\(odpath).consecutive5xx")
            check(od.consecutiveGatewayErrors, in: ConfigBounds.threshold, "\(odpath).consecutiveGatewayErrors")
            checkPositive(od.interval, "\(odpath).interval")
            checkPositive(od.baseEjectionTime, "\(odpath).baseEjectionTime")
            check(od.maxEjectionPercent, in: ConfigBounds.percent, "\(odpath).maxEjectionPercent")
            if let hc = c.healthCheck {
                let hcpath = "\(path).healthCheck"
                if !hc.path.hasPrefix("/") { report("\(hcpath).path", "must start with \"/\"") }
                checkPositive(hc.interval, "\(hcpath).interval")
                checkPositive(hc.timeout, "\(hcpath).timeout")
                check(hc.unhealthyThreshold, in: ConfigBounds.threshold, "\(hcpath).unhealthyThreshold")
                check(hc.healthyThreshold, in: ConfigBounds.threshold, "\(hcpath).healthyThreshold")
            }
        }
    }

    /// An RFC 9110 token.
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "!#$%&'*+-.^_`|~".unicodeScalars.contains($0))
        }
    }

    private func checkTLSAndIdentity() {
        guard config.identity == nil, !isBad("identity") else { return }
        var reasons: [String] = []
        for (i, l) in config.inbound.enumerated() where l.tls != .disabled && !isBad("inbound[\(i)].tls") && !isBad("inbound[\(i)]") {
            let path = "inbound[\(i)].tls"
            reasons.append("\(path) is \(l.tls.rawValue)\(wasGiven(path) ? "" : " (the default)")")
        }
        for (i, c) in config.clusters.enumerated() where c.tls.mode == .mutual && !isBad("clusters[\(i)].tls") && !isBad("clusters[\(i)]") {
            let path = "clusters[\(i)].tls.mode"
            reasons.append("\(path) is mutual\(wasGiven(path) ? "" : " (the default)")")
        }
        if config.admin.tls == .mutual { reasons.append("admin.tls is mutual") }
        guard let first = reasons.first else { return }
        let more = reasons.count > 1 ? " (and \(reasons.count - 1) more)" : ""
        report("identity", "required because \(first)\(more)")
    }

    private func checkTracing() {
        guard let tracing = config.tracing else { return }
        check(tracing.sampleRate, in: ConfigBounds.sampleRate, "tracing.sampleRate")
        for (j, format) in tracing.propagation.enumerated() where tracing.propagation[..<j].contains(format) {
            report("tracing.propagation[\(j)]", "\"\(format.rawValue)\" is listed twice")
        }
        guard let otlp = tracing.otlp else { return }
        switch HTTPEndpointURL.parse(otlp.endpoint) {
        case .success: break
        case .failure(.httpsNotSupported):
            report("tracing.otlp.endpoint", "https is not supported yet; use an http:// URL like \"http://127.0.0.1:4318/v1/traces\"")
        case .failure:
            report("tracing.otlp.endpoint", "expected a URL like \"http://127.0.0.1:4318/v1/traces\"")
        }
        check(otlp.batchSize, in: ConfigBounds.batchSize, "tracing.otlp.batchSize")
        checkPositive(otlp.flushInterval, "tracing.otlp.flushInterval")
        check(otlp.maxQueue, in: ConfigBounds.maxQueue, "tracing.otlp.maxQueue")
        if otlp.maxQueue < otlp.batchSize && !isBad("tracing.otlp.batchSize") {
            report("tracing.otlp.maxQueue", "must be at least batchSize (\(otlp.batchSize))")
        }
    }

    private func checkLimits() {
        let l = config.limits
        check(l.maxHeaderBytes, in: ConfigBounds.maxHeaderBytes, "limits.maxHeaderBytes")
        check(l.maxHeaderCount, in: ConfigBounds.maxHeaderCount, "limits.maxHeaderCount")
        check(l.maxUriBytes, in: ConfigBounds.maxUriBytes, "limits.maxUriBytes")
        if case .file(let path) = config.accessLog.path, path.isEmpty {
            report("accessLog.path", "expected stdout, off or a file path")
        }
    }
}

import NIOCore
import Yams

/// Turns config text into a `SidecarConfig`: YAML syntax, shape, key names, types and value
/// formats. Ranges and cross-field rules are `ConfigValidator`'s job, which runs afterwards.
///
/// Lists keep one element per element in the file (an unreadable element becomes a placeholder
/// whose path is marked bad), so that later problems name the right index.
struct ConfigParser {
    private let r = ConfigNodeReader()

    /// The parsed config (meaningful only without problems), the problems, and the reader's
    /// bookkeeping for the validator.
    struct Outcome {
        var config: SidecarConfig
        var problems: [ConfigProblem]
        var badPaths: Set<String>
        var presentPaths: Set<String>
    }

    static let topKeys = ["service", "identity", "admin", "drainTimeout", "inbound", "outbound", "clusters",
                          "tracing", "accessLog", "limits"]

    func parse(yaml: String) -> Outcome {
        var config = SidecarConfig(service: "")
        do {
            // `.basic`: no regular-expression tag resolution (see YAMLScalarKind).
            if let root = try Yams.compose(yaml: yaml, .basic) {
                config = parseRoot(root)
            } else {
                r.fail("", "the file is empty; expected a mapping with at least \"service\" and one listener")
            }
        } catch let error as YamlError {
            r.fail("", Self.describe(error))
        } catch {
            r.fail("", "invalid YAML: \(error)")
        }
        return Outcome(config: config, problems: r.problems, badPaths: r.badPaths, presentPaths: r.presentPaths)
    }

    /// One line, with the position, without Yams' source snippet.
    static func describe(_ error: YamlError) -> String {
        switch error {
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return "line \(context.mark.line), column \(context.mark.column): duplicate key \(keys) in one mapping"
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            let detail = context.map { "\(problem) \($0.text)" } ?? problem
            return "line \(mark.line), column \(mark.column): invalid YAML: \(detail)"
        case let .reader(problem, _, _, _):
            return "invalid YAML: \(problem)"
        default:
            let first = "\(error)".split(separator: "\n").first.map(String.init) ?? "unreadable"
            return "invalid YAML: \(first)"
        }
    }

    // MARK: Top level

    private func parseRoot(_ root: Node) -> SidecarConfig {
        var c = SidecarConfig(service: "")
        guard case .mapping = root else {
            let kind: String
            switch root {
            case .sequence: kind = "a list"
            case .scalar: kind = "a single value"
            default: kind = "something else"
            }
            r.fail("", "expected a mapping at the top level (with \"service\" and listeners), got \(kind)")
            return c
        }
        guard let f = r.fields(root, at: "", allowed: Self.topKeys) else { return c }
        if let v = r.required(f, "service", in: "", r.nonEmptyString) { c.service = v }
        c.identity = r.value(f, "identity", in: "", identity)
        if let v = r.value(f, "admin", in: "", admin) { c.admin = v }
        if let v = r.value(f, "drainTimeout", in: "", r.duration) { c.drainTimeout = v }
        c.inbound = elements(f, "inbound", placeholder: Self.placeholderInbound, inbound)
        c.outbound = elements(f, "outbound", placeholder: Self.placeholderOutbound, outbound)
        c.clusters = elements(f, "clusters", placeholder: { _ in ClusterConfig(name: "") }, cluster)
        c.tracing = r.value(f, "tracing", in: "", tracing)
        if let v = r.value(f, "accessLog", in: "", accessLog) { c.accessLog = v }
        if let v = r.value(f, "limits", in: "", limits) { c.limits = v }
        return c
    }

    static func placeholderInbound(_ index: Int) -> InboundListenerConfig {
        let nowhere = SocketAddressSpec(host: "", port: 0)
        return InboundListenerConfig(name: "inbound-\(index)", listen: nowhere, forwardTo: nowhere)
    }

    static func placeholderOutbound(_ index: Int) -> OutboundListenerConfig {
        OutboundListenerConfig(name: "outbound-\(index)", listen: SocketAddressSpec(host: "", port: 0), routes: [])
    }

    /// A top-level list whose elements are mappings: one value per element, bad or not.
    private func elements<T>(_ f: [String: Node], _ key: String, placeholder: (Int) -> T,
                             _ read: (Node, String, Int) -> T) -> [T] {
        guard let node = f[key], let list = r.list(node, at: key, of: "mappings") else { return [] }
        return list.enumerated().map { i, element in read(element, ConfigNodeReader.index(key, i), i) }
    }

    // MARK: Sections

    private func identity(_ node: Node, _ path: String) -> IdentityConfig? {
        guard let f = r.fields(node, at: path, allowed: ["certificate", "privateKey", "trustBundle", "reloadInterval"])
        else { return nil }
        var v = IdentityConfig(
            certificate: r.required(f, "certificate", in: path, r.nonEmptyString) ?? "",
            privateKey: r.required(f, "privateKey", in: path, r.nonEmptyString) ?? "",
            trustBundle: r.required(f, "trustBundle", in: path, r.nonEmptyString) ?? "")
        if let d = r.value(f, "reloadInterval", in: path, r.duration) { v.reloadInterval = d }
        return v
    }

    private func admin(_ node: Node, _ path: String) -> AdminConfig? {
        guard let f = r.fields(node, at: path, allowed: ["listen", "tls", "allow"]) else { return nil }
        var v = AdminConfig()
        if let a = r.value(f, "listen", in: path, r.address) { v.listen = a }
        if let t = r.value(f, "tls", in: path, { r.choice($0, at: $1, as: AdminTLSMode.self) }) { v.tls = t }
        if let a = r.listValue(f, "allow", in: path, of: "SPIFFE IDs", r.nonEmptyString) { v.allow = a }
        return v
    }

    private func listenerTimeouts(_ node: Node, _ path: String) -> ListenerTimeouts? {
        guard let f = r.fields(node, at: path, allowed: ["request", "idle"]) else { return nil }
        var v = ListenerTimeouts()
        if let d = r.value(f, "request", in: path, r.duration) { v.request = d }
        if let d = r.value(f, "idle", in: path, r.duration) { v.idle = d }
        return v
    }

    private func inbound(_ node: Node, _ path: String, _ index: Int) -> InboundListenerConfig {
        var v = Self.placeholderInbound(index)
        guard let f = r.fields(node, at: path,
                               allowed: ["name", "listen", "tls", "forwardTo", "protocol", "allow", "timeouts"])
        else { return v }
        if let n = r.value(f, "name", in: path, r.nonEmptyString) { v.name = n }
        if let a = r.required(f, "listen", in: path, r.address) { v.listen = a }
        if let t = r.value(f, "tls", in: path, { r.choice($0, at: $1, as: InboundTLSMode.self) }) { v.tls = t }
        if let a = r.required(f, "forwardTo", in: path, r.address) { v.forwardTo = a }
        if let p = r.value(f, "protocol", in: path, { r.choice($0, at: $1, as: AppProtocol.self) }) { v.protocol = p }
        if let a = r.listValue(f, "allow", in: path, of: "SPIFFE IDs", r.nonEmptyString) { v.allow = a }
        if let t = r.value(f, "timeouts", in: path, listenerTimeouts) { v.timeouts = t }
        return v
    }

    private func outbound(_ node: Node, _ path: String, _ index: Int) -> OutboundListenerConfig {
        var v = Self.placeholderOutbound(index)
        guard let f = r.fields(node, at: path, allowed: ["name", "listen", "routes", "timeouts"]) else { return v }
        if let n = r.value(f, "name", in: path, r.nonEmptyString) { v.name = n }
        if let a = r.required(f, "listen", in: path, r.address) { v.listen = a }
        if let node = f["routes"], let list = r.list(node, at: ConfigNodeReader.join(path, "routes"), of: "routes") {
            v.routes = list.enumerated().map { i, element in
                route(element, ConfigNodeReader.index(ConfigNodeReader.join(path, "routes"), i))
            }
        }
        if let t = r.value(f, "timeouts", in: path, listenerTimeouts) { v.timeouts = t }
        return v
    }

    private func route(_ node: Node, _ path: String) -> RouteConfig {
        var v = RouteConfig(cluster: "")
        guard let f = r.fields(node, at: path, allowed: ["host", "pathPrefix", "cluster"]) else { return v }
        v.host = r.value(f, "host", in: path, r.nonEmptyString)?.lowercased()
        v.pathPrefix = r.value(f, "pathPrefix", in: path, r.nonEmptyString)
        if let c = r.required(f, "cluster", in: path, r.nonEmptyString) { v.cluster = c }
        return v
    }

    // MARK: Clusters

    private func cluster(_ node: Node, _ path: String, _ index: Int) -> ClusterConfig {
        var v = ClusterConfig(name: "")
        guard let f = r.fields(node, at: path, allowed: [
            "name", "protocol", "tls", "endpoints", "loadBalancing", "timeouts", "retries", "circuitBreaker",
            "outlierDetection", "healthCheck",
        ]) else { return v }
        if let n = r.required(f, "name", in: path, r.nonEmptyString) { v.name = n }
        if let p = r.value(f, "protocol", in: path, { r.choice($0, at: $1, as: UpstreamProtocol.self) }) {
            v.protocol = p
        }
        if let t = r.value(f, "tls", in: path, clusterTLS) { v.tls = t }
        if let e = r.listValue(f, "endpoints", in: path, of: "endpoints", endpoint) { v.endpoints = e }
        if let l = r.value(f, "loadBalancing", in: path, loadBalancing) { v.loadBalancing = l }
        if let t = r.value(f, "timeouts", in: path, clusterTimeouts) { v.timeouts = t }
        if let t = r.value(f, "retries", in: path, retries) { v.retries = t }
        if let t = r.value(f, "circuitBreaker", in: path, circuitBreaker) { v.circuitBreaker = t }
        if let t = r.value(f, "outlierDetection", in: path, outlierDetection) { v.outlierDetection = t }
        v.healthCheck = r.value(f, "healthCheck", in: path, healthCheck)
        return v
    }

    private func clusterTLS(_ node: Node, _ path: String) -> ClusterTLSConfig? {
        guard let f = r.fields(node, at: path, allowed: ["mode", "serverName", "expectIdentity"]) else { return nil }
        var v = ClusterTLSConfig()
        if let m = r.value(f, "mode", in: path, { r.choice($0, at: $1, as: ClusterTLSMode.self) }) { v.mode = m }
        v.serverName = r.value(f, "serverName", in: path, r.nonEmptyString)
        if let e = r.listValue(f, "expectIdentity", in: path, of: "SPIFFE IDs", r.nonEmptyString) {
            v.expectIdentity = e
        }
        return v
    }

    private func endpoint(_ node: Node, _ path: String) -> EndpointConfig? {
        guard let f = r.fields(node, at: path, allowed: ["address", "weight"]) else { return nil }
        guard let address = r.required(f, "address", in: path, r.address) else {
            _ = r.value(f, "weight", in: path, r.int)
            return nil
        }
        guard f["weight"] != nil else { return EndpointConfig(address: address) }
        guard let weight = r.value(f, "weight", in: path, r.int) else { return nil }
        return EndpointConfig(address: address, weight: weight)
    }

    private func loadBalancing(_ node: Node, _ path: String) -> LoadBalancingConfig? {
        guard let f = r.fields(node, at: path, allowed: ["policy", "hashOn"]) else { return nil }
        var v = LoadBalancingConfig()
        if let p = r.value(f, "policy", in: path, { r.choice($0, at: $1, as: LoadBalancingPolicy.self) }) {
            v.policy = p
        }
        v.hashOnHeader = r.value(f, "hashOn", in: path) { node, path in
            guard let h = r.fields(node, at: path, allowed: ["header"]) else { return nil }
            return r.required(h, "header", in: path, r.nonEmptyString)?.lowercased()
        }
        return v
    }

    private func clusterTimeouts(_ node: Node, _ path: String) -> ClusterTimeouts? {
        guard let f = r.fields(node, at: path, allowed: ["connect", "request", "perTry", "idle"]) else { return nil }
        var v = ClusterTimeouts()
        if let d = r.value(f, "connect", in: path, r.duration) { v.connect = d }
        if let d = r.value(f, "request", in: path, r.duration) { v.request = d }
        if let d = r.value(f, "perTry", in: path, r.duration) { v.perTry = d }
        if let d = r.value(f, "idle", in: path, r.duration) { v.idle = d }
        return v
    }

    private func retries(_ node: Node, _ path: String) -> RetryPolicyConfig? {
        guard let f = r.fields(node, at: path, allowed: [
            "maxRetries", "retryOn", "retriableStatusCodes", "backoff", "budget", "maxBufferedBody",
        ]) else { return nil }
        var v = RetryPolicyConfig()
        if let n = r.value(f, "maxRetries", in: path, r.int) { v.maxRetries = n }
        if let l = r.listValue(f, "retryOn", in: path, of: "retry conditions", {
            r.choice($0, at: $1, as: RetryCondition.self)
        }) {
            v.retryOn = l
        }
        if let l = r.listValue(f, "retriableStatusCodes", in: path, of: "status codes", r.int) {
            v.retriableStatusCodes = l
        }
        v.backoff = r.value(f, "backoff", in: path) { node, path in
            guard let b = r.fields(node, at: path, allowed: ["base", "max"]) else { return nil }
            var v = BackoffConfig()
            if let d = r.value(b, "base", in: path, r.duration) { v.base = d }
            if let d = r.value(b, "max", in: path, r.duration) { v.max = d }
            return v
        } ?? BackoffConfig()
        v.budget = r.value(f, "budget", in: path) { node, path in
            guard let b = r.fields(node, at: path, allowed: ["ratio", "minRetriesPerSecond"]) else { return nil }
            var v = RetryBudgetConfig()
            if let d = r.value(b, "ratio", in: path, r.double) { v.ratio = d }
            if let n = r.value(b, "minRetriesPerSecond", in: path, r.int) { v.minRetriesPerSecond = n }
            return v
        } ?? RetryBudgetConfig()
        if let s = r.value(f, "maxBufferedBody", in: path, r.size) { v.maxBufferedBody = s }
        return v
    }

    private func circuitBreaker(_ node: Node, _ path: String) -> CircuitBreakerConfig? {
        guard let f = r.fields(node, at: path, allowed: ["maxConnections", "maxPendingRequests", "maxRequests",
                                                         "maxRetries"]) else { return nil }
        var v = CircuitBreakerConfig()
        if let n = r.value(f, "maxConnections", in: path, r.int) { v.maxConnections = n }
        if let n = r.value(f, "maxPendingRequests", in: path, r.int) { v.maxPendingRequests = n }
        if let n = r.value(f, "maxRequests", in: path, r.int) { v.maxRequests = n }
        if let n = r.value(f, "maxRetries", in: path, r.int) { v.maxRetries = n }
        return v
    }

    private func outlierDetection(_ node: Node, _ path: String) -> OutlierDetectionConfig? {
        guard let f = r.fields(node, at: path, allowed: [
            "consecutive5xx", "consecutiveGatewayErrors", "interval", "baseEjectionTime", "maxEjectionPercent",
        ]) else { return nil }
        var v = OutlierDetectionConfig()
        if let n = r.value(f, "consecutive5xx", in: path, r.int) { v.consecutive5xx = n }
        if let n = r.value(f, "consecutiveGatewayErrors", in: path, r.int) { v.consecutiveGatewayErrors = n }
        if let d = r.value(f, "interval", in: path, r.duration) { v.interval = d }
        if let d = r.value(f, "baseEjectionTime", in: path, r.duration) { v.baseEjectionTime = d }
        if let n = r.value(f, "maxEjectionPercent", in: path, r.int) { v.maxEjectionPercent = n }
        return v
    }

    private func healthCheck(_ node: Node, _ path: String) -> HealthCheckConfig? {
        guard let f = r.fields(node, at: path, allowed: ["path", "interval", "timeout", "unhealthyThreshold",
                                                         "healthyThreshold"]) else { return nil }
        var v = HealthCheckConfig()
        if let p = r.value(f, "path", in: path, r.nonEmptyString) { v.path = p }
        if let d = r.value(f, "interval", in: path, r.duration) { v.interval = d }
        if let d = r.value(f, "timeout", in: path, r.duration) { v.timeout = d }
        if let n = r.value(f, "unhealthyThreshold", in: path, r.int) { v.unhealthyThreshold = n }
        if let n = r.value(f, "healthyThreshold", in: path, r.int) { v.healthyThreshold = n }
        return v
    }

    // MARK: Tracing, access log, limits

    private func tracing(_ node: Node, _ path: String) -> TracingConfig? {
        guard let f = r.fields(node, at: path, allowed: ["sampleRate", "propagation", "otlp"]) else { return nil }
        var v = TracingConfig()
        if let d = r.value(f, "sampleRate", in: path, r.double) { v.sampleRate = d }
        if let l = r.listValue(f, "propagation", in: path, of: "propagation formats", {
            r.choice($0, at: $1, as: PropagationFormat.self)
        }) {
            v.propagation = l
        }
        v.otlp = r.value(f, "otlp", in: path) { node, path in
            guard let o = r.fields(node, at: path, allowed: ["endpoint", "batchSize", "flushInterval", "maxQueue"])
            else { return nil }
            var v = OTLPConfig()
            if let e = r.value(o, "endpoint", in: path, r.string) { v.endpoint = e }
            if let n = r.value(o, "batchSize", in: path, r.int) { v.batchSize = n }
            if let d = r.value(o, "flushInterval", in: path, r.duration) { v.flushInterval = d }
            if let n = r.value(o, "maxQueue", in: path, r.int) { v.maxQueue = n }
            return v
        }
        return v
    }

    private func accessLog(_ node: Node, _ path: String) -> AccessLogConfig? {
        guard let f = r.fields(node, at: path, allowed: ["path", "format"]) else { return nil }
        var v = AccessLogConfig()
        if let p = r.value(f, "path", in: path, r.nonEmptyString) {
            switch p {
            case "stdout": v.path = .stdout
            case "off": v.path = .off
            case "stderr":
                r.fail(ConfigNodeReader.join(path, "path"), "expected stdout, off or a file path (for stderr use /dev/stderr)")
            default: v.path = .file(p)
            }
        }
        if let p = r.value(f, "format", in: path, { r.choice($0, at: $1, as: AccessLogFormat.self) }) { v.format = p }
        return v
    }

    private func limits(_ node: Node, _ path: String) -> HTTPLimitsConfig? {
        guard let f = r.fields(node, at: path, allowed: ["maxHeaderBytes", "maxHeaderCount", "maxUriBytes"])
        else { return nil }
        var v = HTTPLimitsConfig()
        if let s = r.value(f, "maxHeaderBytes", in: path, r.size) { v.maxHeaderBytes = s }
        if let n = r.value(f, "maxHeaderCount", in: path, r.int) { v.maxHeaderCount = n }
        if let s = r.value(f, "maxUriBytes", in: path, r.size) { v.maxUriBytes = s }
        return v
    }
}

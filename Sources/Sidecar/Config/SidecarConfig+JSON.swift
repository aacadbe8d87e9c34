import Foundation
import NIOCore

extension SidecarConfig {
    /// The effective config (defaults applied) as JSON for the admin API's `GET /v1/config`:
    /// UTF-8, keys sorted, pretty-printed.
    ///
    /// Key names are the YAML keys, so the output parses back with `parse(yaml:)` to an equal
    /// config. Durations are strings in the largest exact unit (`"250ms"`, `"1s"`), sizes are
    /// integers of bytes, addresses are `"host:port"` strings, and a section that is off
    /// (`identity`, `tracing`, `tracing.otlp`, `healthCheck`, ...) is `null`. File paths are shown
    /// as written; the config holds no key material.
    public func jsonData() -> [UInt8] {
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Only strings, numbers, arrays, dictionaries and NSNull go in, so this cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: jsonObject(), options: options)) ?? Data("{}".utf8)
        return Array(data)
    }

    /// `jsonData()` as a `String`.
    public func jsonString() -> String {
        String(decoding: jsonData(), as: UTF8.self)
    }

    /// The JSON tree behind `jsonData()`: `[String: Any]` of JSON-compatible Foundation values.
    public func jsonObject() -> [String: Any] {
        func d(_ t: TimeAmount) -> String { ConfigDuration.format(t) }
        func orNull(_ value: Any?) -> Any { value ?? NSNull() }
        func timeouts(_ t: ListenerTimeouts) -> [String: Any] { ["request": d(t.request), "idle": d(t.idle)] }

        let identityJSON: Any = identity.map { i -> [String: Any] in
            ["certificate": i.certificate, "privateKey": i.privateKey, "trustBundle": i.trustBundle,
             "reloadInterval": d(i.reloadInterval)]
        } ?? NSNull()
        let inboundJSON: [[String: Any]] = inbound.map { l in
            ["name": l.name, "listen": l.listen.description, "tls": l.tls.rawValue,
             "forwardTo": l.forwardTo.description, "protocol": l.protocol.rawValue, "allow": l.allow,
             "timeouts": timeouts(l.timeouts)]
        }
        let outboundJSON: [[String: Any]] = outbound.map { l in
            ["name": l.name, "listen": l.listen.description, "timeouts": timeouts(l.timeouts),
             "routes": l.routes.map { r -> [String: Any] in
                 ["host": orNull(r.host), "pathPrefix": orNull(r.pathPrefix), "cluster": r.cluster]
             }]
        }
        let clustersJSON: [[String: Any]] = clusters.map { c in
            let r = c.retries
            let retries: [String: Any] = [
                "maxRetries": r.maxRetries, "retryOn": r.retryOn.map(\.rawValue),
                "retriableStatusCodes": r.retriableStatusCodes,
                "backoff": ["base": d(r.backoff.base), "max": d(r.backoff.max)],
                "budget": ["ratio": r.budget.ratio, "minRetriesPerSecond": r.budget.minRetriesPerSecond],
                "maxBufferedBody": r.maxBufferedBody,
            ]
            let od = c.outlierDetection
            let healthCheck: Any = c.healthCheck.map { h -> [String: Any] in
                ["path": h.path, "interval": d(h.interval), "timeout": d(h.timeout),
                 "unhealthyThreshold": h.unhealthyThreshold, "healthyThreshold": h.healthyThreshold]
            } ?? NSNull()
            return [
                "name": c.name, "protocol": c.protocol.rawValue,
                "tls": ["mode": c.tls.mode.rawValue, "serverName": orNull(c.tls.serverName),
                        "expectIdentity": c.tls.expectIdentity] as [String: Any],
                "endpoints": c.endpoints.map { ["address": $0.address.description, "weight": $0.weight] as [String: Any] },
                "loadBalancing": ["policy": c.loadBalancing.policy.rawValue,
                                  "hashOn": orNull(c.loadBalancing.hashOnHeader.map { ["header": $0] })] as [String: Any],
                "timeouts": ["connect": d(c.timeouts.connect), "request": d(c.timeouts.request),
                             "perTry": d(c.timeouts.perTry), "idle": d(c.timeouts.idle)],
                "retries": retries,
                "circuitBreaker": ["maxConnections": c.circuitBreaker.maxConnections,
                                   "maxPendingRequests": c.circuitBreaker.maxPendingRequests,
                                   "maxRequests": c.circuitBreaker.maxRequests,
                                   "maxRetries": c.circuitBreaker.maxRetries],
                "outlierDetection": ["consecutive5xx": od.consecutive5xx,
                                     "consecutiveGatewayErrors": od.consecutiveGatewayErrors,
                                     "interval": d(od.interval), "baseEjectionTime": d(od.baseEjectionTime),
                                     "maxEjectionPercent": od.maxEjectionPercent] as [String: Any],
                "healthCheck": healthCheck,
            ]
        }
        let tracingJSON: Any = tracing.map { t -> [String: Any] in
            let otlp: Any = t.otlp.map { o -> [String: Any] in
                ["endpoint": o.endpoint, "batchSize": o.batchSize, "flushInterval": d(o.flushInterval),
                 "maxQueue": o.maxQueue]
            } ?? NSNull()
            return ["sampleRate": t.sampleRate, "propagation": t.propagation.map(\.rawValue), "otlp": otlp]
        } ?? NSNull()
        let accessLogPath: String
        switch accessLog.path {
        case .stdout: accessLogPath = "stdout"
        case .off: accessLogPath = "off"
        case .file(let path): accessLogPath = path
        }
        return [
            "service": service,
            "identity": identityJSON,
            "admin": ["listen": admin.listen.description, "tls": admin.tls.rawValue, "allow": admin.allow]
                as [String: Any],
            "drainTimeout": d(drainTimeout),
            "inbound": inboundJSON,
            "outbound": outboundJSON,
            "clusters": clustersJSON,
            "tracing": tracingJSON,
            "accessLog": ["path": accessLogPath, "format": accessLog.format.rawValue],
            "limits": ["maxHeaderBytes": limits.maxHeaderBytes, "maxHeaderCount": limits.maxHeaderCount,
                       "maxUriBytes": limits.maxUriBytes],
        ]
    }
}

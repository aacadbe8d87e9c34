import Foundation
import NIOCore
import XCTest
@testable import Sidecar

final class ConfigParsingTests: XCTestCase {
    func testFullExampleParsesToExpectedValues() throws {
        let config = try SidecarConfig.load(path: ConfigTestSupport.examplePath("full.yaml"))

        var expected = SidecarConfig(service: "orders")
        expected.identity = IdentityConfig(certificate: "certs/orders.pem", privateKey: "certs/orders-key.pem",
                                           trustBundle: "certs/ca.pem")
        expected.admin.listen = SocketAddressSpec(host: "127.0.0.1", port: 15000)
        var inbound = InboundListenerConfig(name: "public", listen: SocketAddressSpec(host: "0.0.0.0", port: 15006),
                                            forwardTo: SocketAddressSpec(host: "127.0.0.1", port: 8080))
        inbound.timeouts.request = .seconds(30)
        inbound.timeouts.idle = .seconds(300)
        expected.inbound = [inbound]
        expected.outbound = [OutboundListenerConfig(
            name: "egress", listen: SocketAddressSpec(host: "127.0.0.1", port: 15001),
            routes: [RouteConfig(host: "payments", pathPrefix: "/", cluster: "payments"),
                     RouteConfig(cluster: "fallback")])]
        var payments = ClusterConfig(name: "payments")
        payments.tls.serverName = "payments"
        payments.endpoints = [EndpointConfig(address: SocketAddressSpec(host: "127.0.0.1", port: 9001), weight: 1)]
        payments.loadBalancing.hashOnHeader = "x-user-id"
        payments.healthCheck = HealthCheckConfig()
        var fallback = ClusterConfig(name: "fallback")
        fallback.endpoints = [EndpointConfig(address: SocketAddressSpec(host: "127.0.0.1", port: 9002)),
                              EndpointConfig(address: SocketAddressSpec(host: "127.0.0.1", port: 9003), weight: 2)]
        expected.clusters = [payments, fallback]
        var tracing = TracingConfig()
        tracing.otlp = OTLPConfig()
        expected.tracing = tracing
        XCTAssertEqual(config, expected)

        // Spot checks of values that equal their defaults, against the literal numbers.
        let p = config.clusters[0]
        XCTAssertEqual(p.retries.backoff.base, .milliseconds(25))
        XCTAssertEqual(p.retries.backoff.max, .milliseconds(250))
        XCTAssertEqual(p.retries.maxBufferedBody, 65536)
        XCTAssertEqual(p.retries.retryOn, [.connectFailure, .refusedStream, .reset, .gatewayError])
        XCTAssertEqual(p.retries.budget.ratio, 0.2)
        XCTAssertEqual(p.timeouts.perTry, .zero)
        XCTAssertEqual(p.outlierDetection.baseEjectionTime, .seconds(30))
        XCTAssertEqual(config.tracing?.otlp?.endpoint, "http://127.0.0.1:4318/v1/traces")
        XCTAssertEqual(config.accessLog.path, .stdout)
        XCTAssertTrue(config.needsIdentity)
        XCTAssertEqual(config.summary,
                       "valid: service \"orders\", 1 inbound, 1 outbound listener, 2 clusters (3 endpoints), "
                           + "tracing to http://127.0.0.1:4318/v1/traces (sampleRate 1.0)")
    }

    func testMinimalExampleParses() throws {
        let config = try SidecarConfig.load(path: ConfigTestSupport.examplePath("minimal.yaml"))
        XCTAssertEqual(config.service, "orders")
        XCTAssertEqual(config.inbound.first?.tls, .disabled)
        XCTAssertEqual(config.clusters.first?.tls.mode, .disabled)
        XCTAssertNil(config.identity)
        XCTAssertFalse(config.needsIdentity)
        XCTAssertEqual(config.summary,
                       "valid: service \"orders\", 1 inbound, 1 outbound listener, 1 cluster (1 endpoint), tracing off")
    }

    func testMinimalConfigGetsEveryDefault() throws {
        let config = try SidecarConfig.parse(yaml: """
            service: orders
            outbound:
              - listen: 127.0.0.1:15001
                routes: [{ cluster: a }]
              - listen: 127.0.0.1:15002
            inbound:
              - { listen: 127.0.0.1:15006, forwardTo: 127.0.0.1:8080 }
            identity: { certificate: c.pem, privateKey: k.pem, trustBundle: ca.pem }
            clusters:
              - name: a
            """)
        XCTAssertEqual(config.identity?.reloadInterval, .seconds(5))
        XCTAssertEqual(config.admin.listen, SocketAddressSpec(host: "127.0.0.1", port: 15000))
        XCTAssertEqual(config.admin.tls, .disabled)
        XCTAssertEqual(config.admin.allow, [])
        XCTAssertEqual(config.drainTimeout, .seconds(10))
        XCTAssertEqual(config.outbound.map(\.name), ["outbound-0", "outbound-1"])
        XCTAssertEqual(config.outbound[1].routes, [])
        XCTAssertEqual(config.outbound[0].timeouts, ListenerTimeouts())
        let inbound = try XCTUnwrap(config.inbound.first)
        XCTAssertEqual(inbound.name, "inbound-0")
        XCTAssertEqual(inbound.tls, .mutual)
        XCTAssertEqual(inbound.protocol, .auto)
        XCTAssertEqual(inbound.allow, [])
        XCTAssertEqual(inbound.timeouts.request, .seconds(30))
        XCTAssertEqual(inbound.timeouts.idle, .seconds(300))
        let c = try XCTUnwrap(config.clusters.first)
        XCTAssertEqual(c.protocol, .http1)
        XCTAssertEqual(c.tls.mode, .mutual)
        XCTAssertNil(c.tls.serverName)
        XCTAssertEqual(c.endpoints, [])
        XCTAssertEqual(c.loadBalancing.policy, .roundRobin)
        XCTAssertNil(c.loadBalancing.hashOnHeader)
        XCTAssertEqual(c.timeouts.connect, .seconds(1))
        XCTAssertEqual(c.timeouts.request, .seconds(15))
        XCTAssertEqual(c.timeouts.perTry, .zero)
        XCTAssertEqual(c.timeouts.idle, .seconds(60))
        XCTAssertEqual(c.retries.maxRetries, 2)
        XCTAssertEqual(c.retries.retriableStatusCodes, [503])
        XCTAssertEqual(c.retries.budget.minRetriesPerSecond, 10)
        XCTAssertEqual(c.circuitBreaker, CircuitBreakerConfig())
        XCTAssertEqual(c.circuitBreaker.maxRetries, 3)
        XCTAssertEqual(c.outlierDetection.consecutive5xx, 5)
        XCTAssertEqual(c.outlierDetection.interval, .seconds(10))
        XCTAssertEqual(c.outlierDetection.maxEjectionPercent, 10)
        XCTAssertNil(c.healthCheck)
        XCTAssertNil(config.tracing)
        XCTAssertEqual(config.accessLog.path, .stdout)
        XCTAssertEqual(config.accessLog.format, .json)
        XCTAssertEqual(config.limits.maxHeaderBytes, 65536)
        XCTAssertEqual(config.limits.maxHeaderCount, 100)
        XCTAssertEqual(config.limits.maxUriBytes, 8192)
    }

    func testEveryValueDifferentFromItsDefault() throws {
        let config = try SidecarConfig.parse(yaml: """
            service: billing
            identity: { certificate: a.pem, privateKey: a-key.pem, trustBundle: ca.pem, reloadInterval: 1m }
            admin: { listen: "[::]:15000", tls: mutual, allow: ["spiffe://mesh.local/ns/ops/sa/admin"] }
            drainTimeout: 1m30s
            inbound:
              - name: in
                listen: "[::1]:0"
                tls: permissive
                forwardTo: localhost:8080
                protocol: http2
                allow: [spiffe://mesh.local/ns/default/sa/web]
                timeouts: { request: 1500ms, idle: 0s }
            outbound:
              - name: out
                listen: 127.0.0.1:0
                routes:
                  - { host: "*.Example.com", cluster: c }
                timeouts: { request: 2h }
            clusters:
              - name: c
                protocol: http2
                tls: { mode: mutual, expectIdentity: [spiffe://mesh.local/ns/x/sa/y] }
                endpoints: [{ address: "[fe80::1]:80", weight: 1000 }]
                loadBalancing: { policy: maglev, hashOn: { header: X-User } }
                timeouts: { connect: 100ms, request: 0s, perTry: 2s, idle: 1h }
                retries:
                  maxRetries: 10
                  retryOn: [5xx, retriable-status-codes, grpc-unavailable]
                  retriableStatusCodes: [502, 504]
                  backoff: { base: 1ms, max: 1ms }
                  budget: { ratio: 1, minRetriesPerSecond: 0 }
                  maxBufferedBody: 1MiB
                circuitBreaker: { maxConnections: 1, maxPendingRequests: 0, maxRequests: 2, maxRetries: 0 }
                outlierDetection: { consecutive5xx: 1, consecutiveGatewayErrors: 2, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 100 }
                healthCheck: { path: /up, interval: 2s, timeout: 500ms, unhealthyThreshold: 1, healthyThreshold: 1 }
            tracing:
              sampleRate: 0.25
              propagation: [b3]
            accessLog: { path: /var/log/sidecar.log }
            limits: { maxHeaderBytes: 1MiB, maxHeaderCount: 50, maxUriBytes: 4096 }
            """)
        XCTAssertEqual(config.identity?.reloadInterval, .minutes(1))
        XCTAssertEqual(config.admin.listen, SocketAddressSpec(host: "::", port: 15000))
        XCTAssertEqual(config.admin.tls, .mutual)
        XCTAssertEqual(config.drainTimeout, .seconds(90))
        XCTAssertEqual(config.inbound[0].listen, SocketAddressSpec(host: "::1", port: 0))
        XCTAssertEqual(config.inbound[0].tls, .permissive)
        XCTAssertEqual(config.inbound[0].forwardTo, SocketAddressSpec(host: "localhost", port: 8080))
        XCTAssertEqual(config.inbound[0].protocol, .http2)
        XCTAssertEqual(config.inbound[0].timeouts.request, .milliseconds(1500))
        XCTAssertEqual(config.inbound[0].timeouts.idle, .zero)
        XCTAssertEqual(config.outbound[0].routes, [RouteConfig(host: "*.example.com", cluster: "c")])
        XCTAssertEqual(config.outbound[0].timeouts.request, .hours(2))
        let c = config.clusters[0]
        XCTAssertEqual(c.protocol, .http2)
        XCTAssertEqual(c.tls.expectIdentity, ["spiffe://mesh.local/ns/x/sa/y"])
        XCTAssertEqual(c.endpoints, [EndpointConfig(address: SocketAddressSpec(host: "fe80::1", port: 80), weight: 1000)])
        XCTAssertEqual(c.loadBalancing.policy, .maglev)
        XCTAssertEqual(c.loadBalancing.hashOnHeader, "x-user")
        XCTAssertEqual(c.timeouts.connect, .milliseconds(100))
        XCTAssertEqual(c.timeouts.request, .zero)
        XCTAssertEqual(c.retries.retryOn, [.serverError, .retriableStatusCodes, .grpcUnavailable])
        XCTAssertEqual(c.retries.retriableStatusCodes, [502, 504])
        XCTAssertEqual(c.retries.budget.ratio, 1.0)
        XCTAssertEqual(c.retries.maxBufferedBody, 1 << 20)
        XCTAssertEqual(c.circuitBreaker.maxPendingRequests, 0)
        XCTAssertEqual(c.outlierDetection.maxEjectionPercent, 100)
        XCTAssertEqual(c.healthCheck?.path, "/up")
        XCTAssertEqual(c.healthCheck?.timeout, .milliseconds(500))
        XCTAssertEqual(config.tracing?.sampleRate, 0.25)
        XCTAssertEqual(config.tracing?.propagation, [.b3])
        XCTAssertNil(config.tracing?.otlp)
        XCTAssertEqual(config.accessLog.path, .file("/var/log/sidecar.log"))
        XCTAssertEqual(config.limits.maxHeaderBytes, 1 << 20)
        XCTAssertEqual(config.limits.maxHeaderCount, 50)
        XCTAssertEqual(config.limits.maxUriBytes, 4096)
        XCTAssertTrue(config.summary.hasSuffix("tracing headers only"), config.summary)
    }

    func testJSONInputIsAccepted() throws {
        let config = try SidecarConfig.parse(yaml: """
            {"service": "orders", "accessLog": {"path": "off"},
             "outbound": [{"listen": "127.0.0.1:15001", "routes": [{"cluster": "a", "host": null}]}],
             "clusters": [{"name": "a", "tls": {"mode": "disabled"}, "endpoints": [{"address": "127.0.0.1:1", "weight": 3}]}]}
            """)
        XCTAssertEqual(config.clusters[0].endpoints[0].weight, 3)
        XCTAssertNil(config.outbound[0].routes[0].host)
        XCTAssertEqual(config.accessLog.path, .off)
    }

    func testAnchorsAndMergeKeys() throws {
        let config = try SidecarConfig.parse(yaml: """
            service: orders
            outbound:
              - listen: 127.0.0.1:15001
                routes: [{ host: a, cluster: a }, { cluster: b }]
            clusters:
              - &base
                name: a
                tls: { mode: disabled }
                protocol: http2
                endpoints: &eps [{ address: 127.0.0.1:9001 }]
              - <<: *base
                name: b
                protocol: http1
              - name: c
                endpoints: *eps
                tls: { mode: disabled }
            """)
        XCTAssertEqual(config.clusters.map(\.name), ["a", "b", "c"])
        XCTAssertEqual(config.clusters[1].tls.mode, .disabled)
        XCTAssertEqual(config.clusters[1].protocol, .http1)
        XCTAssertEqual(config.clusters[1].endpoints, config.clusters[0].endpoints)
        XCTAssertEqual(config.clusters[2].endpoints.count, 1)
    }
}

import Foundation
import XCTest
@testable import Sidecar

final class ConfigValidationTests: XCTestCase {
    private func problems(_ yaml: String) -> [String] { ConfigTestSupport.problems(yaml) }

    /// `base` with `text` appended to the element at the end of the clusters list (indented for it).
    private func withCluster(_ text: String) -> String {
        ConfigTestSupport.base + "\n" + text.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
    }

    func testBaseIsValid() {
        XCTAssertEqual(problems(ConfigTestSupport.base), [])
    }

    func testDocumentLevelProblems() {
        XCTAssertEqual(problems(""), ["the file is empty; expected a mapping with at least \"service\" and one listener"])
        XCTAssertEqual(problems("# only a comment\n"),
                       ["the file is empty; expected a mapping with at least \"service\" and one listener"])
        XCTAssertEqual(problems("just a string"),
                       ["expected a mapping at the top level (with \"service\" and listeners), got a single value"])
        XCTAssertEqual(problems("- a\n- b"),
                       ["expected a mapping at the top level (with \"service\" and listeners), got a list"])
        let syntax = problems("service: [unclosed")
        XCTAssertEqual(syntax.count, 1)
        XCTAssertTrue(syntax[0].hasPrefix("line "), syntax[0])
        XCTAssertTrue(syntax[0].contains("invalid YAML"), syntax[0])
        XCTAssertEqual(problems("service: a\nservice: b\n"), ["line 1, column 1: duplicate key \"service\" in one mapping"])
        XCTAssertEqual(problems("service: orders"), ["at least one listener is required (\"inbound\" or \"outbound\")"])
        XCTAssertEqual(problems("service: orders\ninbound: []\noutbound: ~"),
                       ["at least one listener is required (\"inbound\" or \"outbound\")"])
    }

    func testUnknownKeysAreReportedWithTheirPath() {
        let yaml = withCluster("retries: { bakoff: { base: 1s } }").replacingOccurrences(of: "service:", with: "servise: x\nservice:")
        XCTAssertEqual(problems(yaml), ["servise: unknown key", "clusters[0].retries.bakoff: unknown key"])
    }

    func testClustersOneRetriesBackoffBase() {
        let yaml = ConfigTestSupport.base + """

              - name: other
                tls: { mode: disabled }
                retries: { backoff: { base: 25 } }
            """
        XCTAssertEqual(problems(yaml), ["clusters[1].retries.backoff.base: expected a duration like \"25ms\""])
    }

    func testRequiredValues() {
        XCTAssertEqual(problems("""
            inbound:
              - { tls: disabled }
            outbound:
              - routes: [{ host: a }]
            clusters:
              - tls: { mode: disabled }
                endpoints: [{ weight: 2 }]
            """), [
                "service: required",
                "inbound[0].listen: required",
                "inbound[0].forwardTo: required",
                "outbound[0].listen: required",
                "outbound[0].routes[0].cluster: required",
                "clusters[0].name: required",
                "clusters[0].endpoints[0].address: required",
            ])
        XCTAssertEqual(problems(ConfigTestSupport.base.replacingOccurrences(of: "service: orders", with: "service: \"  \"")),
                       ["service: must not be empty"])
    }

    func testWrongTypesEverywhere() {
        XCTAssertEqual(problems("""
            service: [a]
            admin: 5
            drainTimeout: {}
            inbound:
              - listen: 8080
                forwardTo: "localhost"
                tls: yes
                protocol: http3
                allow: spiffe://x/y
                timeouts: { request: 10 }
              - 7
            outbound: { listen: 127.0.0.1:1 }
            clusters:
              - name: a
                endpoints: [{ address: "127.0.0.1:99999", weight: "1" }]
                loadBalancing: { policy: fastest, hashOn: x-user }
                retries: { maxRetries: 1.5, retryOn: [reset, 4xx], maxBufferedBody: 64KB, budget: { ratio: lots } }
            tracing: { sampleRate: "1", otlp: [] }
            accessLog: { path: stderr, format: text }
            limits: { maxHeaderCount: 10KiB }
            """), [
                "service: expected a string",
                "admin: expected a mapping with keys listen, tls, allow",
                "drainTimeout: expected a duration like \"25ms\"",
                "inbound[0].listen: expected an address like \"127.0.0.1:8080\"",
                "inbound[0].tls: expected one of: mutual, permissive, disabled",
                "inbound[0].forwardTo: expected an address like \"127.0.0.1:8080\"",
                "inbound[0].protocol: expected one of: auto, http1, http2",
                "inbound[0].allow: expected a list of SPIFFE IDs",
                "inbound[0].timeouts.request: expected a duration like \"25ms\"",
                "inbound[1]: expected a mapping with keys name, listen, tls, forwardTo, protocol, allow, timeouts",
                "outbound: expected a list of mappings",
                "clusters[0].endpoints[0].address: expected an address like \"127.0.0.1:8080\"",
                "clusters[0].endpoints[0].weight: expected an integer",
                "clusters[0].loadBalancing.policy: expected one of: round_robin, least_request, peak_ewma, ring_hash, maglev, random",
                "clusters[0].loadBalancing.hashOn: expected a mapping with keys header",
                "clusters[0].retries.maxRetries: expected an integer",
                "clusters[0].retries.retryOn[1]: expected one of: " + RetryCondition.allCases.map(\.rawValue).joined(separator: ", "),
                "clusters[0].retries.budget.ratio: expected a number",
                "clusters[0].retries.maxBufferedBody: expected a size like \"64KiB\" or a number of bytes",
                "tracing.sampleRate: expected a number",
                "tracing.otlp: expected a mapping with keys endpoint, batchSize, flushInterval, maxQueue",
                "accessLog.path: expected stdout, off or a file path (for stderr use /dev/stderr)",
                "accessLog.format: expected one of: json",
                "limits.maxHeaderCount: expected an integer",
                // Cross-checks still run on what could be read.
                "identity: required because clusters[0].tls.mode is mutual (the default)",
            ])
    }

    func testRangesAndBounds() {
        let yaml = """
            service: orders
            outbound: [{ listen: 127.0.0.1:15001, routes: [{ cluster: payments }] }]
            clusters:
              - name: payments
                tls: { mode: disabled }
                endpoints: [{ address: "127.0.0.1:0", weight: 0 }, { address: "127.0.0.1:2", weight: 1001 }]
                timeouts: { connect: 0s }
                retries:
                  maxRetries: 11
                  retriableStatusCodes: [503, 99, 600]
                  backoff: { base: 0s, max: 0s }
                  budget: { ratio: -0.5, minRetriesPerSecond: -1 }
                  maxBufferedBody: 1GiB
                circuitBreaker: { maxConnections: 0, maxPendingRequests: -1 }
                outlierDetection: { consecutive5xx: 0, interval: 0s, maxEjectionPercent: 101 }
                healthCheck: { path: healthz, interval: 0s, healthyThreshold: 0 }
            tracing: { sampleRate: 1.5, otlp: { batchSize: 0, maxQueue: 0, flushInterval: 0s } }
            limits: { maxHeaderBytes: 512B, maxHeaderCount: 0, maxUriBytes: 1 }
            drainTimeout: 0s
            """
        XCTAssertEqual(problems(yaml), [
            "clusters[0].endpoints[0].address: port must be in 1...65535",
            "clusters[0].endpoints[0].weight: must be in 1...1000",
            "clusters[0].endpoints[1].weight: must be in 1...1000",
            "clusters[0].retries.maxRetries: must be in 0...10",
            "clusters[0].retries.retriableStatusCodes[1]: must be in 100...599",
            "clusters[0].retries.retriableStatusCodes[2]: must be in 100...599",
            "clusters[0].retries.backoff.base: must be longer than 0s",
            "clusters[0].retries.budget.ratio: must be a number in 0.0...10.0",
            "clusters[0].retries.budget.minRetriesPerSecond: must be in 0...100000",
            "clusters[0].retries.maxBufferedBody: must be in 0...268435456",
            "clusters[0].circuitBreaker.maxConnections: must be in 1...1000000",
            "clusters[0].circuitBreaker.maxPendingRequests: must be in 0...1000000",
            "clusters[0].outlierDetection.consecutive5xx: must be in 1...1000",
            "clusters[0].outlierDetection.interval: must be longer than 0s",
            "clusters[0].outlierDetection.maxEjectionPercent: must be in 0...100",
            "clusters[0].healthCheck.path: must start with \"/\"",
            "clusters[0].healthCheck.interval: must be longer than 0s",
            "clusters[0].healthCheck.healthyThreshold: must be in 1...1000",
            "tracing.sampleRate: must be a number in 0.0...1.0",
            "tracing.otlp.batchSize: must be in 1...100000",
            "tracing.otlp.flushInterval: must be longer than 0s",
            "tracing.otlp.maxQueue: must be in 1...10000000",
            "limits.maxHeaderBytes: must be in 1024...8388608",
            "limits.maxHeaderCount: must be in 1...10000",
            "limits.maxUriBytes: must be in 64...1048576",
        ])
    }

    func testBackoffBaseAboveMaxAndQueueBelowBatch() {
        let yaml = withCluster("retries: { backoff: { base: 1s } }") + """

            tracing: { otlp: { batchSize: 100, maxQueue: 99 } }
            """
        XCTAssertEqual(problems(yaml), [
            "clusters[0].retries.backoff.max: must not be shorter than backoff.base (1s)",
            "tracing.otlp.maxQueue: must be at least batchSize (100)",
        ])
    }

    func testRouteProblems() {
        let yaml = ConfigTestSupport.base.replacingOccurrences(of: """
                  - cluster: payments
            """, with: """
                  - { host: "a.example", cluster: payments }
                  - { host: "b.example", cluster: x }
                  - { host: "a.example:80", cluster: payments }
                  - { host: "*.example", pathPrefix: api, cluster: payments }
                  - { host: "*.example", pathPrefix: /api, cluster: payments }
                  - { host: "c.example", pathPrefix: /api/v1, cluster: payments }
                  - { cluster: payments }
                  - { host: "d.example", cluster: payments }
            """)
        XCTAssertEqual(problems(yaml), [
            "outbound[0].routes[1].cluster: no cluster named \"x\"",
            "outbound[0].routes[2].host: expected a host name without port, exact or \"*.suffix\"",
            "outbound[0].routes[3].pathPrefix: must start with \"/\"",
            "outbound[0].routes[5]: unreachable: every request it matches is matched first by outbound[0].routes[4]",
            "outbound[0].routes[7]: unreachable: every request it matches is matched first by outbound[0].routes[6]",
        ])
    }

    func testDuplicatesAndAddressConflicts() {
        let yaml = """
            service: orders
            admin: { listen: 127.0.0.1:15000 }
            inbound:
              - { name: a, listen: 0.0.0.0:15000, forwardTo: 127.0.0.1:8080, tls: disabled }
              - { name: a, listen: 127.0.0.1:0, forwardTo: 127.0.0.1:8081, tls: disabled }
            outbound:
              - { name: inbound-9, listen: 127.0.0.1:0, routes: [{ cluster: c }] }
              - { listen: 127.0.0.1:15001 }
              - { name: "bad name", listen: 127.0.0.1:15001 }
            clusters:
              - name: c
                tls: { mode: disabled }
                endpoints: [{ address: 10.0.0.1:80 }, { address: 10.0.0.2:80 }, { address: 10.0.0.1:80, weight: 2 }]
              - { name: c, tls: { mode: disabled } }
            """
        XCTAssertEqual(problems(yaml), [
            "inbound[0].listen: 0.0.0.0:15000 is already used by admin.listen",
            "inbound[1].name: duplicate listener name \"a\" (also inbound[0].name)",
            "outbound[2].name: expected 1 to 128 letters, digits, \".\", \"_\" or \"-\"",
            "outbound[2].listen: 127.0.0.1:15001 is already used by outbound[1].listen",
            "clusters[0].endpoints[2].address: duplicate endpoint 10.0.0.1:80 (also clusters[0].endpoints[0])",
            "clusters[1].name: duplicate cluster name \"c\" (also clusters[0].name)",
        ])
    }

    func testIdentityRequirements() {
        let noTLS = ConfigTestSupport.base
        XCTAssertEqual(problems(noTLS.replacingOccurrences(of: "    tls: disabled\n", with: "")),
                       ["identity: required because inbound[0].tls is mutual (the default)"])
        XCTAssertEqual(problems(noTLS.replacingOccurrences(of: "tls: disabled", with: "tls: permissive")),
                       ["identity: required because inbound[0].tls is permissive"])
        XCTAssertEqual(problems(noTLS.replacingOccurrences(of: "tls: { mode: disabled }", with: "tls: { mode: mutual }")),
                       ["identity: required because clusters[0].tls.mode is mutual"])
        XCTAssertEqual(problems(noTLS + "\nadmin: { listen: 0.0.0.0:15000 }"), [
            "admin.listen: binding the admin API to a non-loopback address requires admin.tls: mutual and a non-empty admin.allow",
        ])
        XCTAssertEqual(problems(noTLS + "\nadmin: { listen: 0.0.0.0:15000, tls: mutual, allow: [spiffe://mesh/ops] }"),
                       ["identity: required because admin.tls is mutual"])
        // An unreadable tls value does not also claim that identity is required.
        XCTAssertEqual(problems(noTLS.replacingOccurrences(of: "tls: disabled", with: "tls: off")),
                       ["inbound[0].tls: expected one of: mutual, permissive, disabled"])
        XCTAssertEqual(problems(noTLS + "\nidentity: { certificate: a.pem }"),
                       ["identity.privateKey: required", "identity.trustBundle: required"])
    }

    func testSPIFFEIDsAndTLSConsistency() {
        let yaml = """
            service: orders
            identity: { certificate: a, privateKey: b, trustBundle: c }
            inbound:
              - listen: 127.0.0.1:15006
                forwardTo: 127.0.0.1:8080
                allow: ["spiffe://mesh.local/ns/a", "https://mesh.local/x", "spiffe:///no-domain", "spiffe://Mesh/x"]
              - { listen: 127.0.0.1:15007, forwardTo: 127.0.0.1:8080, tls: disabled, allow: [spiffe://m/a] }
            clusters:
              - name: c
                tls: { expectIdentity: [spiffe://ok/x, "spiffe://"] }
              - name: d
                tls: { mode: disabled, serverName: d, expectIdentity: [spiffe://ok/x] }
            admin: { allow: [spiffe://ok] }
            """
        XCTAssertEqual(problems(yaml), [
            "admin.allow: has no effect without admin.tls: mutual",
            "inbound[0].allow[1]: expected a SPIFFE ID like \"spiffe://mesh.local/ns/default/sa/orders\"",
            "inbound[0].allow[2]: expected a SPIFFE ID like \"spiffe://mesh.local/ns/default/sa/orders\"",
            "inbound[0].allow[3]: expected a SPIFFE ID like \"spiffe://mesh.local/ns/default/sa/orders\"",
            "inbound[1].allow: has no effect with tls: disabled (callers have no identity)",
            "clusters[0].tls.expectIdentity[1]: expected a SPIFFE ID like \"spiffe://mesh.local/ns/default/sa/orders\"",
            "clusters[1].tls.expectIdentity: has no effect with tls.mode: disabled",
            "clusters[1].tls.serverName: has no effect with tls.mode: disabled",
        ])
    }

    func testTracingEndpoint() {
        func endpoint(_ url: String) -> [String] {
            problems(ConfigTestSupport.base + "\ntracing: { otlp: { endpoint: \"\(url)\" } }")
        }
        XCTAssertEqual(endpoint("http://collector:4318/v1/traces"), [])
        XCTAssertEqual(endpoint("http://[::1]:4318/v1/traces"), [])
        XCTAssertEqual(endpoint("https://collector:4318/v1/traces"), [
            "tracing.otlp.endpoint: https is not supported yet; use an http:// URL like \"http://127.0.0.1:4318/v1/traces\"",
        ])
        for bad in ["collector:4318", "http://collector/v1/traces", "http://collector:4318", "http://:4318/x", "ftp://a:1/x"] {
            XCTAssertEqual(endpoint(bad), ["tracing.otlp.endpoint: expected a URL like \"http://127.0.0.1:4318/v1/traces\""], bad)
        }
    }

    func testSeveralProblemsAreAllReported() {
        let yaml = """
            service: ""
            inbound:
              - { listen: nowhere, forwardTo: 127.0.0.1:8080, tls: disabled, timeouts: { idle: forever } }
            outbound:
              - listen: 127.0.0.1:15001
                routes: [{ cluster: missing }]
            clusters:
              - name: a
                tls: { mode: disabled }
                retries: { bakoff: {}, backoff: { base: 25 } }
            """
        let found = problems(yaml)
        XCTAssertEqual(found, [
            "service: must not be empty",
            "inbound[0].listen: expected an address like \"127.0.0.1:8080\"",
            "inbound[0].timeouts.idle: expected a duration like \"25ms\"",
            "clusters[0].retries.bakoff: unknown key",
            "clusters[0].retries.backoff.base: expected a duration like \"25ms\"",
            "outbound[0].routes[0].cluster: no cluster named \"missing\"",
        ])
        do {
            _ = try SidecarConfig.parse(yaml: yaml)
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.description, found.joined(separator: "\n"))
        }
    }

    func testLoadReportsUnreadableFiles() {
        let missing = "/nonexistent/sidecar.yaml"
        XCTAssertThrowsError(try SidecarConfig.load(path: missing)) { error in
            XCTAssertEqual((error as? ConfigError)?.problems,
                           [ConfigProblem(path: "", message: "cannot read config file \(missing): no such file")])
        }
        XCTAssertThrowsError(try SidecarConfig.load(path: NSTemporaryDirectory())) { error in
            XCTAssertEqual((error as? ConfigError)?.problems.first?.message.hasSuffix("is a directory"), true)
        }
    }

    func testValidationProblemsOnACodeBuiltConfig() {
        var config = SidecarConfig(service: "x")
        config.outbound = [OutboundListenerConfig(name: "o", listen: SocketAddressSpec(host: "127.0.0.1", port: 1),
                                                  routes: [RouteConfig(cluster: "nope")])]
        XCTAssertEqual(config.validationProblems().map(\.description),
                       ["outbound[0].routes[0].cluster: no cluster named \"nope\""])
    }

    /// Random YAML shapes and wrong types everywhere: never a crash, always at least one problem
    /// for junk, and every problem has a message.
    func testFuzzNeverCrashes() throws {
        var generator = ConfigTestSupport.SeededGenerator(seed: 42)
        let full = try String(contentsOfFile: ConfigTestSupport.examplePath("full.yaml"), encoding: .utf8)
        let scalars = ["1", "-1", "0", "1.5", "true", "~", "\"\"", "x", "1s", "64KiB", "127.0.0.1:1", "[]", "{}",
                       "[1, 2]", "{a: 1}", ".inf", ".nan", "0x10", "99999999999999999999999", "*undefined", "&a b",
                       "!!binary aGk=", "'quoted'", "<<: 1", "- x"]
        for _ in 0..<300 {
            // Replace a random value in the full example with a random scalar or shape.
            var lines = full.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let i = Int.random(in: 0..<lines.count, using: &generator)
            if let colon = lines[i].firstIndex(of: ":") {
                lines[i] = String(lines[i][...colon]) + " " + scalars.randomElement(using: &generator)!
            } else {
                lines[i] = scalars.randomElement(using: &generator)!
            }
            _ = problems(lines.joined(separator: "\n"))
        }
        for _ in 0..<300 {
            let text = String((0..<Int.random(in: 0..<60, using: &generator)).map { _ in
                "ab:- \n{}[],&*!|>'\"#%@`1.:".randomElement(using: &generator)!
            })
            _ = problems(text)
        }
        for junk in ["[[[[[[[[[[[[", "a: &a [*a]", String(repeating: "[", count: 5000), "\u{0}", "---\n...\n---\n"] {
            _ = problems(junk)
        }
        XCTAssertFalse(problems("- 1\n- 2").isEmpty)
    }

    func testMergeKeyBombIsBounded() {
        var yaml = "service: s\noutbound: [{ listen: 127.0.0.1:1 }]\nclusters:\n  - name: a0\n    tls: &m0 {}\n"
        for level in 1...20 {
            let previous = Array(repeating: "*m\(level - 1)", count: 9).joined(separator: ", ")
            yaml += "  - name: a\(level)\n    tls: &m\(level) { <<: [\(previous)] }\n"
        }
        let found = problems(yaml)
        XCTAssertTrue(found.contains("clusters[20].tls: merge keys (<<) nest too deeply"), "\(found)")
        XCTAssertEqual(problems("service: s\noutbound: [{ listen: 127.0.0.1:1, <<: 5 }]"),
                       ["outbound[0]: a merge key (<<) must refer to a mapping or a list of mappings"])
    }
}

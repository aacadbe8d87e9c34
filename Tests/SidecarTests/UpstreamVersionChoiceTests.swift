import NIOCore
import XCTest
@testable import Sidecar

/// How a cluster's attempts choose HTTP/1.1 or HTTP/2 (`protocol: http1 | http2 | auto`, and an
/// inbound listener's `auto` local app), and the `x-sidecar-orig-proto` helpers.
final class UpstreamVersionChoiceTests: XCTestCase {
    private func cluster(_ yaml: String) throws -> ClusterConfig {
        try SidecarConfig.parse(yaml: """
            service: orders
            identity: { certificate: a.pem, privateKey: a-key.pem, trustBundle: ca.pem }
            outbound:
              - listen: 127.0.0.1:15001
                routes: [{ cluster: payments }]
            clusters:
              - name: payments
                endpoints: [{ address: 127.0.0.1:9001 }]
            \(yaml)
            """).clusters[0]
    }

    private func endpoint(speaksHTTP2: Bool?) -> LoopEndpoint {
        let endpoint = LoopEndpoint(endpoint: Endpoint(address: SocketAddressSpec(host: "127.0.0.1", port: 9001), weight: 1))
        endpoint.speaksHTTP2 = speaksHTTP2
        return endpoint
    }

    func testAutoIsAClusterProtocolThatNeedsTLS() throws {
        let mutual = try cluster("    protocol: auto")
        XCTAssertEqual(mutual.protocol, .auto)
        XCTAssertEqual(UpstreamVersionChoice(config: mutual, followsCallerProtocol: false), .negotiated)
        // Without TLS there is nothing to negotiate with: the config check refuses it.
        XCTAssertEqual(
            ConfigTestSupport.problems(ConfigTestSupport.base.replacingOccurrences(of: "- name: payments\n", with: "- name: payments\n    protocol: auto\n")),
            ["clusters[0].protocol: auto negotiates by TLS ALPN and needs tls.mode: mutual; use http1 or http2 (h2c) without TLS"])
        XCTAssertEqual(UpstreamVersionChoice(config: try cluster(""), followsCallerProtocol: false), .http1)
        XCTAssertEqual(UpstreamVersionChoice(config: try cluster("    protocol: http2"), followsCallerProtocol: false), .http2)
        XCTAssertEqual(UpstreamVersionChoice(config: mutual, followsCallerProtocol: true), .callers)
        XCTAssertEqual(
            ConfigTestSupport.problems(ConfigTestSupport.base.replacingOccurrences(of: "- name: payments\n", with: "- name: payments\n    protocol: h3\n")),
            ["clusters[0].protocol: expected one of: http1, http2, auto"])
    }

    func testEachChoicePicksTheVersionOfAnAttempt() {
        let unknown = endpoint(speaksHTTP2: nil)
        let http2 = endpoint(speaksHTTP2: true)
        let http1 = endpoint(speaksHTTP2: false)
        for caller in [false, true] {
            for target in [unknown, http2, http1] {
                XCTAssertFalse(UpstreamVersionChoice.http1.usesHTTP2(to: target, callerIsHTTP2: caller))
                XCTAssertTrue(UpstreamVersionChoice.http2.usesHTTP2(to: target, callerIsHTTP2: caller))
            }
            // Negotiated: HTTP/2 until the endpoint picked HTTP/1.1, whatever the caller spoke.
            XCTAssertTrue(UpstreamVersionChoice.negotiated.usesHTTP2(to: unknown, callerIsHTTP2: caller))
            XCTAssertTrue(UpstreamVersionChoice.negotiated.usesHTTP2(to: http2, callerIsHTTP2: caller))
            XCTAssertFalse(UpstreamVersionChoice.negotiated.usesHTTP2(to: http1, callerIsHTTP2: caller))
        }
        // The caller's protocol, unless the app turned out not to speak HTTP/2.
        XCTAssertTrue(UpstreamVersionChoice.callers.usesHTTP2(to: unknown, callerIsHTTP2: true))
        XCTAssertFalse(UpstreamVersionChoice.callers.usesHTTP2(to: http1, callerIsHTTP2: true))
        XCTAssertFalse(UpstreamVersionChoice.callers.usesHTTP2(to: http2, callerIsHTTP2: false))
        XCTAssertEqual(UpstreamVersionChoice.allFallingBack, [.callers, .negotiated])
    }

    func testAnHTTP1PickIsAskedAgainAfterTheRecheckInterval() {
        let endpoint = endpoint(speaksHTTP2: nil)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        endpoint.notePickedHTTP1(now: start)
        XCTAssertEqual(endpoint.speaksHTTP2, false)
        endpoint.recheckProtocolIfDue(now: start + LoopEndpoint.protocolRecheckInterval - .nanoseconds(1))
        XCTAssertEqual(endpoint.speaksHTTP2, false)
        XCTAssertFalse(UpstreamVersionChoice.negotiated.usesHTTP2(to: endpoint, callerIsHTTP2: false))
        endpoint.recheckProtocolIfDue(now: start + LoopEndpoint.protocolRecheckInterval)
        XCTAssertNil(endpoint.speaksHTTP2)
        XCTAssertTrue(UpstreamVersionChoice.negotiated.usesHTTP2(to: endpoint, callerIsHTTP2: false))
        // An h2c app found out by its first bytes (no pick time) is not asked again.
        let app = self.endpoint(speaksHTTP2: false)
        app.recheckProtocolIfDue(now: start + .hours(1))
        XCTAssertEqual(app.speaksHTTP2, false)
    }

    func testOriginalProtocolHeader() {
        func says(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBytes { OriginalProtocolHeader.saysHTTP1($0) }
        }
        XCTAssertTrue(says("HTTP/1.1"))
        XCTAssertTrue(says("http/1.0"))
        XCTAssertFalse(says("HTTP/2"))
        XCTAssertFalse(says("HTTP/"))
        XCTAssertFalse(says(""))
        Array("X-Sidecar-Orig-Proto".utf8).withUnsafeBytes { XCTAssertTrue(OriginalProtocolHeader.isName($0)) }
        Array("x-sidecar-orig-protx".utf8).withUnsafeBytes { XCTAssertFalse(OriginalProtocolHeader.isName($0)) }
    }
}

extension UpstreamVersionChoice {
    /// The choices whose HTTP/2 attempts fall back to HTTP/1.1.
    fileprivate static var allFallingBack: [UpstreamVersionChoice] {
        [.http1, .http2, .callers, .negotiated].filter(\.fallsBackToHTTP1)
    }
}

import NIOHTTP1
import XCTest

@testable import Sidecar

final class HTTP2HeaderTranslationTests: XCTestCase {
    private func block(_ fields: [(String, String)]) -> HTTP2HeaderBlock {
        HTTP2HeaderBlock(fields.map { (name: $0.0, value: $0.1) })
    }

    private func request(_ fields: [(String, String)]) -> Result<ProxyRequestHead, HTTP2HeaderTranslation.Problem> {
        HTTP2HeaderTranslation.requestHead(from: block(fields))
    }

    private let base = [(":method", "POST"), (":scheme", "https"), (":authority", "payments:8443"), (":path", "/pay?x=1")]

    // MARK: HTTP/2 → HTTP/1 shape

    func testRequestPseudoHeadersBecomeRequestLineAndHost() throws {
        let head = try request(base + [("content-type", "application/json"), ("x-a", "1")]).get()
        XCTAssertEqual(head.method, .POST)
        XCTAssertEqual(head.uri, "/pay?x=1")
        XCTAssertEqual(head.version.major, 2)
        XCTAssertEqual(head.fields.headers["host"], ["payments:8443"])
        XCTAssertEqual(head.fields.headers["x-a"], ["1"])
        XCTAssertFalse(head.fields.contains { $0.name.hasPrefix(":") })
    }

    func testAuthorityReplacesHostAndCookiesAreJoined() throws {
        let head = try request(base + [("host", "other"), ("cookie", "a=1"), ("cookie", "b=2")]).get()
        XCTAssertEqual(head.fields.headers["host"], ["payments:8443"])
        XCTAssertEqual(head.fields.headers["cookie"], ["a=1; b=2"])
    }

    func testHostAloneIsAccepted() throws {
        let head = try request([(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "h")]).get()
        XCTAssertEqual(head.fields.headers["host"], ["h"])
    }

    func testMalformedRequestsAreRejected() {
        XCTAssertEqual(request(Array(base.dropLast())).failureValue, .missingPseudoHeader(":path"))
        XCTAssertEqual(request([(":method", "GET"), (":scheme", "http"), (":path", "/")]).failureValue, .missingPseudoHeader(":authority"))
        XCTAssertEqual(request(base + [(":protocol", "x")]).failureValue, .unknownPseudoHeader(":protocol"))
        XCTAssertEqual(request(base + [(":path", "/again")]).failureValue, .duplicatePseudoHeader(":path"))
        XCTAssertEqual(request([("x-a", "1")] + base).failureValue, .pseudoHeaderAfterRegular)
        XCTAssertEqual(request(base + [("X-Upper", "1")]).failureValue, .uppercaseName)
        for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"] {
            XCTAssertEqual(request(base + [(name, "x")]).failureValue, .connectionSpecificHeader(name), name)
        }
        XCTAssertEqual(request(base + [("te", "gzip")]).failureValue, .connectionSpecificHeader("te"))
        XCTAssertNoThrow(try request(base + [("te", "trailers")]).get())
    }

    func testOversizedBlockIsRejected() {
        var oversized = HTTP2HeaderBlock()
        oversized.append(name: ":method", value: "GET", maxBytes: 40, maxCount: 10)
        oversized.append(name: "x-big", value: String(repeating: "v", count: 100), maxBytes: 40, maxCount: 10)
        XCTAssertTrue(oversized.tooLarge)
        XCTAssertTrue(oversized.fields.isEmpty)
        XCTAssertEqual(HTTP2HeaderTranslation.requestHead(from: oversized).failureValue, .tooLarge)
    }

    func testResponseHeadAndTrailers() throws {
        let head = try HTTP2HeaderTranslation.responseHead(from: block([(":status", "201"), ("x-b", "2")])).get()
        XCTAssertEqual(head.status.code, 201)
        XCTAssertEqual(head.fields.first(name: "x-b"), "2")
        XCTAssertEqual(HTTP2HeaderTranslation.responseHead(from: block([(":status", "2x0")])).failureValue, .invalidStatus)
        XCTAssertEqual(HTTP2HeaderTranslation.responseHead(from: block([("x", "1")])).failureValue, .missingPseudoHeader(":status"))
        let trailers = try HTTP2HeaderTranslation.trailers(from: block([("grpc-status", "0"), ("grpc-message", "")])).get()
        XCTAssertEqual(trailers["grpc-status"], ["0"])
        XCTAssertEqual(HTTP2HeaderTranslation.trailers(from: block([(":status", "200")])).failureValue, .pseudoHeaderInTrailers)
    }

    // MARK: HTTP/1 shape → HTTP/2

    func testRequestFieldsFromHTTP1Head() {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "payments")
        headers.add(name: "X-Custom", value: "1")
        headers.add(name: "Connection", value: "keep-alive, X-Hop")
        headers.add(name: "X-Hop", value: "dropped")
        headers.add(name: "Keep-Alive", value: "timeout=5")
        headers.add(name: "Proxy-Connection", value: "keep-alive")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "TE", value: "gzip")
        let head = ProxyRequestHead(method: .PUT, uri: "/a?b", fields: HTTPFieldBlock(headers))
        let fields = HTTP2HeaderTranslation.requestFields(from: head, scheme: "https")
        XCTAssertEqual(fields.map(\.name), [":method", ":scheme", ":authority", ":path", "x-custom"])
        XCTAssertEqual(fields.map(\.value), ["PUT", "https", "payments", "/a?b", "1"])
    }

    func testGRPCRequestGetsTETrailersAndKeepsIt() {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "svc")
        headers.add(name: "content-type", value: "application/grpc+proto")
        let fields = HTTP2HeaderTranslation.requestFields(from: ProxyRequestHead(method: .POST, uri: "/S/M", fields: HTTPFieldBlock(headers)), scheme: "http")
        XCTAssertEqual(fields.filter { $0.name == "te" }.map(\.value), ["trailers"])
        headers.add(name: "te", value: "trailers")
        let again = HTTP2HeaderTranslation.requestFields(from: ProxyRequestHead(method: .POST, uri: "/S/M", fields: HTTPFieldBlock(headers)), scheme: "http")
        XCTAssertEqual(again.filter { $0.name == "te" }.count, 1)
    }

    func testResponseAndTrailerFields() {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Keep-Alive", value: "timeout=5")
        let fields = HTTP2HeaderTranslation.responseFields(from: HTTPResponseHead(version: .http1_1, status: .notFound, headers: headers))
        XCTAssertEqual(fields.map(\.name), [":status", "content-type"])
        XCTAssertEqual(fields.first?.value, "404")
        var trailers = HTTPHeaders()
        trailers.add(name: "Grpc-Status", value: "0")
        trailers.add(name: "Connection", value: "x")
        XCTAssertEqual(HTTP2HeaderTranslation.trailerFields(from: trailers).map(\.name), ["grpc-status"])
    }
}

extension Result {
    fileprivate var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

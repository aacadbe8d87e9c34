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

    private func requestFields(_ head: ProxyRequestHead, scheme: String) -> HTTP2FieldList {
        var list = HTTP2FieldList()
        HTTP2HeaderTranslation.requestFields(from: head, scheme: scheme, into: &list, marksHTTP1Caller: head.marksHTTP1Caller)
        return list
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
        XCTAssertEqual(request(base + [("x-a-longer-name-wiTh-one-capital", "1")]).failureValue, .uppercaseName)
        XCTAssertEqual(request(base + [("x-a-longer-name-with-one-capitaL", "1")]).failureValue, .uppercaseName)
        XCTAssertNoThrow(try request(base + [("x-a-longer-name-\u{e9}-no-capitals", "1")]).get())
        for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"] {
            XCTAssertEqual(request(base + [(name, "x")]).failureValue, .connectionSpecificHeader(name), name)
        }
        XCTAssertEqual(request(base + [("te", "gzip")]).failureValue, .connectionSpecificHeader("te"))
        XCTAssertNoThrow(try request(base + [("te", "trailers")]).get())
    }

    func testOversizedBlockIsRejected() {
        var oversized = HTTP2HeaderBlock()
        oversized.append(name: ":method", value: "GET", maxBytes: 60, maxCount: 10)
        XCTAssertFalse(oversized.tooLarge)
        XCTAssertEqual(oversized.fields.count, 1)
        oversized.append(name: "x-big", value: String(repeating: "v", count: 100), maxBytes: 60, maxCount: 10)
        XCTAssertTrue(oversized.tooLarge)
        XCTAssertTrue(oversized.fields.isEmpty, "the fields received so far are dropped")
        oversized.append(name: "x-small", value: "1", maxBytes: 60, maxCount: 10)
        XCTAssertTrue(oversized.fields.isEmpty, "and nothing is kept after")
        XCTAssertEqual(HTTP2HeaderTranslation.requestHead(from: oversized).failureValue, .tooLarge)

        var tooMany = HTTP2HeaderBlock()
        for index in 0..<3 { tooMany.append(name: "x-\(index)", value: "v", maxBytes: .max, maxCount: 3) }
        XCTAssertFalse(tooMany.tooLarge)
        tooMany.append(name: "x-3", value: "v", maxBytes: .max, maxCount: 3)
        XCTAssertTrue(tooMany.tooLarge)
        XCTAssertTrue(tooMany.fields.isEmpty)
    }

    /// Fields become HTTP/1.1 lines: a CR, LF or NUL anywhere refuses the whole block, whatever
    /// the HTTP/2 codec let through.
    func testLineBreaksAndNULRefuseTheBlock() {
        for (name, value) in [("x-a", "1\r\nx-injected: 1"), ("x-a", "a\nb"), ("x-a", "a\u{0}b"), ("x-\r\n", "v")] {
            var block = HTTP2HeaderBlock()
            for (pseudo, pseudoValue) in base { block.append(name: pseudo, value: pseudoValue, maxBytes: .max, maxCount: .max) }
            block.append(name: name, value: value, maxBytes: .max, maxCount: .max)
            block.append(name: "x-after", value: "1", maxBytes: .max, maxCount: .max)
            XCTAssertTrue(block.hasInvalidBytes, value)
            XCTAssertTrue(block.fields.isEmpty)
            XCTAssertEqual(HTTP2HeaderTranslation.requestHead(from: block).failureValue, .invalidFieldBytes)
            XCTAssertEqual(HTTP2HeaderTranslation.responseHead(from: block).failureValue, .invalidFieldBytes)
            XCTAssertEqual(HTTP2HeaderTranslation.trailers(from: block).failureValue, .invalidFieldBytes)
        }
    }

    func testLineBreakScanAgreesWithTheByteRule() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let count = Int.random(in: 0..<40, using: &random)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0x20...0xFF, using: &random) }
            // Bytes on either side of the rule (HTAB and the other low bytes take the slow path).
            for _ in 0..<(count > 0 ? Int.random(in: 0...2, using: &random) : 0) {
                bytes[Int.random(in: 0..<count, using: &random)] =
                    [0x00, 0x0A, 0x0D, 0x09, 0x01, 0x0B, 0x0C, 0x0E, 0x8A, 0x8D].randomElement(using: &random)!
            }
            let expected = bytes.contains { $0 == 0 || $0 == 0x0A || $0 == 0x0D }
            XCTAssertEqual(bytes.withUnsafeBytes { HTTPFieldBlock.containsLineBreakOrNUL($0) }, expected, "\(bytes)")
        }
    }

    func testPseudoHeaderNamesAreCaseSensitive() {
        XCTAssertEqual(request([(":METHOD", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/")]).failureValue,
                       .unknownPseudoHeader(":METHOD"))
        XCTAssertEqual(HTTP2HeaderTranslation.responseHead(from: block([(":Status", "200")])).failureValue, .unknownPseudoHeader(":Status"))
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
        let fields = requestFields(head, scheme: "https")
        XCTAssertEqual(fields.map(\.name), [":method", ":scheme", ":authority", ":path", "x-custom"])
        XCTAssertEqual(fields.map(\.value), ["PUT", "https", "payments", "/a?b", "1"])
    }

    func testAnHTTP1CallersHeadSaysSoOverHTTP2() {
        var head = ProxyRequestHead(method: .GET, uri: "/", fields: HTTPFieldBlock(HTTPHeaders([("host", "payments")])))
        XCTAssertFalse(requestFields(head, scheme: "https").contains { $0.name == "x-sidecar-orig-proto" })
        head.marksHTTP1Caller = true
        let fields = requestFields(head, scheme: "https")
        XCTAssertEqual(fields.filter { $0.name == "x-sidecar-orig-proto" }.map(\.value), ["HTTP/1.1"])
        // Not a field of the head: an HTTP/1.1 attempt writes nothing for it.
        XCTAssertNil(head.fields.first(name: "x-sidecar-orig-proto"))
        // Towards an endpoint known not to be a sidecar, the connection says not to.
        var list = HTTP2FieldList()
        HTTP2HeaderTranslation.requestFields(from: head, scheme: "https", into: &list, marksHTTP1Caller: false)
        XCTAssertFalse(list.contains { $0.name == "x-sidecar-orig-proto" })
    }

    func testGRPCRequestGetsTETrailersAndKeepsIt() {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "svc")
        headers.add(name: "content-type", value: "application/grpc+proto")
        let fields = requestFields(ProxyRequestHead(method: .POST, uri: "/S/M", fields: HTTPFieldBlock(headers)), scheme: "http")
        XCTAssertEqual(fields.filter { $0.name == "te" }.map(\.value), ["trailers"])
        headers.add(name: "te", value: "trailers")
        let again = requestFields(ProxyRequestHead(method: .POST, uri: "/S/M", fields: HTTPFieldBlock(headers)), scheme: "http")
        XCTAssertEqual(again.filter { $0.name == "te" }.count, 1)
    }

    func testResponseAndTrailerFields() {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Keep-Alive", value: "timeout=5")
        var fields = HTTP2FieldList()
        HTTP2HeaderTranslation.responseFields(from: ProxyResponseHead(status: .notFound, headers: headers), into: &fields)
        XCTAssertEqual(fields.map(\.name), [":status", "content-type"])
        XCTAssertEqual(fields.map(\.value).first, "404")
        var trailers = HTTPHeaders()
        trailers.add(name: "Grpc-Status", value: "0")
        trailers.add(name: "Connection", value: "x")
        HTTP2HeaderTranslation.trailerFields(from: trailers, into: &fields)
        XCTAssertEqual(fields.map(\.name), ["grpc-status"])
    }

    func testStatusIsWrittenAsThreeDigits() {
        var fields = HTTP2FieldList()
        for code in [100, 200, 204, 301, 404, 503, 599, 999] {
            HTTP2HeaderTranslation.responseFields(from: ProxyResponseHead(status: HTTPResponseStatus(statusCode: code)), into: &fields)
            XCTAssertEqual(fields.map(\.value), [String(code)])
        }
        for code in [0, 42, 1000] {
            HTTP2HeaderTranslation.responseFields(from: ProxyResponseHead(status: HTTPResponseStatus(statusCode: code)), into: &fields)
            XCTAssertEqual(fields.map(\.value), ["502"], "a status that cannot be sent goes out as a gateway error")
        }
    }

    func testConnectionNamingTEStripsItEvenAsTrailers() {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "svc")
        headers.add(name: "connection", value: "te")
        headers.add(name: "te", value: "trailers")
        XCTAssertEqual(requestFields(ProxyRequestHead(method: .GET, uri: "/", fields: HTTPFieldBlock(headers)), scheme: "http").map(\.name),
                       [":method", ":scheme", ":authority", ":path"])
    }

    func testALargeHeadsStorageIsNotKept() {
        var list = HTTP2FieldList()
        let big = ProxyRequestHead(method: .GET, uri: "/", fields: HTTPFieldBlock([("host", "h"), ("x-big", String(repeating: "b", count: 10_000))]))
        HTTP2HeaderTranslation.requestFields(from: big, scheme: "http", into: &list, marksHTTP1Caller: false)
        XCTAssertGreaterThan(list.bytes.capacity, HTTP2FieldList.keptCapacity)
        list.removeAll()
        XCTAssertLessThanOrEqual(list.bytes.capacity, HTTP2FieldList.keptCapacity)
        HTTP2HeaderTranslation.requestFields(from: ProxyRequestHead(method: .GET, uri: "/", fields: HTTPFieldBlock([("host", "h")])), scheme: "http", into: &list, marksHTTP1Caller: false)
        let capacity = list.bytes.capacity
        list.removeAll()
        XCTAssertEqual(list.bytes.capacity, capacity, "a small list's storage is kept for the next message")
    }

    /// A head sent as an HTTP/2 request and received on the other side is the same head: method,
    /// target, `Host`, and every end-to-end field in order, names in lower case.
    func testRequestHeadsSurviveTheTripThroughHTTP2() throws {
        var random = SystemRandomNumberGenerator()
        let methods: [HTTPMethod] = [.GET, .POST, .PUT, .DELETE, .PATCH, .OPTIONS, .RAW(value: "PURGE")]
        for _ in 0..<200 {
            var sent: [(String, String)] = [("Host", "svc-\(Int.random(in: 0..<100, using: &random)).mesh:8080")]
            var expected: [(String, String)] = []
            for index in 0..<Int.random(in: 0..<12, using: &random) {
                let name = (Bool.random(using: &random) ? "X-Field-" : "x-field-") + String(index)
                let value = String(repeating: "v", count: Int.random(in: 0..<40, using: &random)) + "; q=\(index)"
                sent.append((name, value))
                expected.append((name.lowercased(), value))
            }
            sent.insert(("Connection", "keep-alive"), at: Int.random(in: 0...sent.count, using: &random))
            let method = methods.randomElement(using: &random)!
            let uri = "/p/\(Int.random(in: 0..<1000, using: &random))?a=b"
            let list = requestFields(ProxyRequestHead(method: method, uri: uri, fields: HTTPFieldBlock(sent)), scheme: "https")
            let received = try HTTP2HeaderTranslation.requestHead(from: block(list.map { ($0.name, $0.value) })).get()
            XCTAssertEqual(received.method, method)
            XCTAssertEqual(received.uri, uri)
            XCTAssertEqual(received.fields.first(name: "host"), sent[sent.firstIndex { $0.0 == "Host" }!].1)
            let endToEnd = received.fields.filter { $0.name != "host" }
            XCTAssertEqual(endToEnd.map(\.name), expected.map(\.0))
            XCTAssertEqual(endToEnd.map(\.value), expected.map(\.1))
        }
    }

    /// The head a received block becomes is written as HTTP/1.1 lines: pseudo-headers gone, `Host`
    /// last, the other fields as they arrived.
    func testReceivedRequestHeadEncodesAsHTTP1Lines() throws {
        let head = try request(base + [("accept", "*/*"), ("x-a", "1")]).get()
        var out = [UInt8](repeating: 0, count: head.fields.encodedLength)
        let end = out.withUnsafeMutableBytes { head.fields.encode(into: $0, at: 0) }
        XCTAssertEqual(end, out.count)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "accept: */*\r\nx-a: 1\r\nhost: payments:8443\r\n")
    }

    func testEmptyAuthorityIsRefused() {
        XCTAssertEqual(request([(":method", "GET"), (":scheme", "http"), (":authority", ""), (":path", "/"), ("host", "h")]).failureValue,
                       .missingPseudoHeader(":authority"))
    }
}

extension Result {
    fileprivate var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

import NIOHTTP1
import XCTest
@testable import Sidecar

final class HTTP1RequestValidatorTests: XCTestCase {
    private typealias V = HTTP1RequestValidator

    private func check(
        _ headers: [(String, String)], version: HTTPVersion = .http1_1, uri: String = "/", maxUriBytes: Int = 8192
    ) -> Result<V.Verdict, V.Problem> {
        V.validate(ProxyRequestHead(version: version, method: .POST, uri: uri, fields: HTTPFieldBlock(headers)), maxUriBytes: maxUriBytes)
    }

    private func framing(_ headers: [(String, String)], version: HTTPVersion = .http1_1) -> V.BodyFraming? {
        try? check(headers, version: version).get().framing
    }

    func testFramingOfAcceptableRequests() {
        XCTAssertEqual(framing([("Host", "a")]), V.BodyFraming.none)
        XCTAssertEqual(framing([("host", "a"), ("Content-Length", "12")]), .contentLength(12))
        XCTAssertEqual(framing([("host", "a"), ("content-length", "0")]), V.BodyFraming.none)
        XCTAssertEqual(framing([("host", "a"), ("content-length", " 7 , 7 ")]), .contentLength(7))
        XCTAssertEqual(framing([("host", "a"), ("Transfer-Encoding", "Chunked")]), .chunked)
        XCTAssertEqual(framing([("host", "a"), ("transfer-encoding", " chunked\t")]), .chunked)
        XCTAssertEqual(framing([], version: .http1_0), V.BodyFraming.none)
    }

    func testAContentLengthListIsRewrittenAsOneValue() {
        XCTAssertEqual(try? check([("host", "a"), ("content-length", "3, 3")]).get().contentLengthToRewrite, 3)
        XCTAssertEqual(try? check([("host", "a"), ("content-length", "0,0")]).get().contentLengthToRewrite, 0)
        XCTAssertNil(try? check([("host", "a"), ("content-length", "3")]).get().contentLengthToRewrite)
    }

    func testHostRules() {
        XCTAssertEqual(check([]), .failure(.missingHost))
        XCTAssertEqual(check([("host", "a"), ("Host", "b")]), .failure(.multipleHosts))
        XCTAssertEqual(check([("host", "a, b")]), .failure(.multipleHosts))
        XCTAssertEqual(check([("host", "a,")]).map(\.framing), .success(.none))
    }

    func testContentLengthSmuggling() {
        for value in ["", "abc", "-1", "1 2", "0x10", "5,6", "5,,5", "+5", "1234567890123456789", "5;a"] {
            XCTAssertEqual(check([("host", "a"), ("content-length", value)]), .failure(.invalidContentLength), value)
        }
        XCTAssertEqual(check([("host", "a"), ("content-length", "5"), ("Content-Length", "5")]), .failure(.invalidContentLength))
        XCTAssertEqual(check([("host", "a"), ("content-length", "123456789012345678")]).map(\.framing), .success(.contentLength(123_456_789_012_345_678)))
    }

    func testTransferEncodingSmuggling() {
        XCTAssertEqual(check([("host", "a"), ("transfer-encoding", "chunked"), ("content-length", "3")]), .failure(.contentLengthWithTransferEncoding))
        for value in ["gzip", "gzip, chunked", "chunked, chunked", "chunked ,", "xchunked", "chunke"] {
            let result = check([("host", "a"), ("transfer-encoding", value)])
            if value == "chunked ," {
                // A trailing empty item is not a coding (as `HTTPHeaders[canonicalForm:]` splits).
                XCTAssertEqual(result.map(\.framing), .success(.chunked), value)
            } else {
                XCTAssertEqual(result, .failure(.unsupportedTransferEncoding), value)
            }
        }
        XCTAssertEqual(check([("host", "a"), ("transfer-encoding", "chunked"), ("Transfer-Encoding", "chunked")]), .failure(.unsupportedTransferEncoding))
        XCTAssertEqual(check([("transfer-encoding", "chunked")], version: .http1_0), .failure(.unsupportedTransferEncoding))
    }

    func testURILimitAndExpect() {
        XCTAssertEqual(check([("host", "a")], uri: "/" + String(repeating: "x", count: 20), maxUriBytes: 20), .failure(.uriTooLong))
        XCTAssertEqual(check([("host", "a"), ("Expect", "100-Continue")]).map(\.expectsContinue), .success(true))
        XCTAssertEqual(check([("host", "a"), ("expect", "something-else")]).map(\.expectsContinue), .success(false))
        XCTAssertEqual(check([("host", "a")]).map(\.expectsContinue), .success(false))
    }
}

import NIOHTTP1
import XCTest
@testable import Sidecar

final class HopByHopHeadersTests: XCTestCase {
    func testRemovesConnectionHeadersAndTheOnesItNames() {
        var headers = HTTPHeaders([
            ("Host", "a"), ("Connection", "keep-alive, X-Custom, close"), ("X-Custom", "1"), ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("Proxy-Connection", "x"),
            ("Proxy-Authorization", "y"), ("Proxy-Anything", "z"), ("x-keep", "1"),
        ])
        XCTAssertTrue(HopByHopHeaders.strip(&headers), "Connection: close is reported")
        XCTAssertEqual(headers.map(\.name), ["Host", "x-keep"])
    }

    func testLeavesOrdinaryMessagesUntouched() {
        var headers = HTTPHeaders([("Host", "a"), ("content-type", "text/plain"), ("proxied", "no"), ("teapot", "1")])
        let before = headers
        XCTAssertFalse(HopByHopHeaders.strip(&headers))
        XCTAssertEqual(headers, before)
    }

    func testProxyPrefixedNamesOfEveryLength() {
        // Lengths 7, 10 and 17 are also those of upgrade, connection/keep-alive and
        // transfer-encoding: the prefix rule must still apply to them.
        for name in ["Proxy-X", "Proxy-Abcd", "Proxy-Abcdefghijk", "proxy-ab", "PROXY-AUTHENTICATE"] {
            XCTAssertTrue(HopByHopHeaders.isHopByHop(name), name)
        }
    }

    func testNameMatchingIsCaseInsensitive() {
        XCTAssertTrue(HopByHopHeaders.isHopByHop("TRANSFER-ENCODING"))
        XCTAssertTrue(HopByHopHeaders.isHopByHop("Te"))
        XCTAssertTrue(HopByHopHeaders.isHopByHop("PROXY-foo"))
        XCTAssertFalse(HopByHopHeaders.isHopByHop("tx"))
        XCTAssertFalse(HopByHopHeaders.isHopByHop("proxy"))
        XCTAssertFalse(HopByHopHeaders.isHopByHop("x-connection"))
    }
}

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

    /// The field-block strip (responses and requests on the data path) leaves what the
    /// `HTTPHeaders` one leaves, in order, and reports `Connection: close` the same, on random
    /// heads from names that are and are not hop-by-hop (a lone `Connection: keep-alive`, the
    /// usual case, included).
    func testFieldBlockStripAgreesWithTheHeadersStrip() {
        var generator = ConfigTestSupport.SeededGenerator(seed: 11)
        let fields: [(String, String)] = [
            ("Connection", "keep-alive"), ("Connection", "close"), ("connection", "Keep-Alive, X-Named"), ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("Proxy-Authorization", "y"),
            ("X-Named", "n"), ("x-named", "m"), ("Host", "a"), ("Content-Length", "5"), ("Server", "nginx"), ("Date", "d"),
            ("X-Keep", "1"), ("Content-Type", "text/plain"),
        ]
        for _ in 0..<5_000 {
            let chosen = (0..<Int.random(in: 0...8, using: &generator)).map { _ in fields.randomElement(using: &generator)! }
            var headers = HTTPHeaders(chosen)
            var block = HTTPFieldBlock(HTTPHeaders(chosen))
            let headersClose = HopByHopHeaders.strip(&headers)
            let blockClose = HopByHopHeaders.strip(&block)
            XCTAssertEqual(blockClose, headersClose, "\(chosen)")
            XCTAssertEqual(block.headers.map { "\($0.name): \($0.value)" }, headers.map { "\($0.name): \($0.value)" }, "\(chosen)")
        }
    }
}

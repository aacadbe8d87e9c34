import XCTest

@testable import Sidecar

final class TLSSPIFFEIDTests: XCTestCase {
    private func assertInvalid(_ string: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SPIFFEID(parsing: string), file: file, line: line) { error in
            guard let error = error as? SPIFFEIDError else { return XCTFail("wrong error \(error)", file: file, line: line) }
            XCTAssertTrue(
                error.reason.contains(fragment), "\(string): \"\(error.reason)\" lacks \"\(fragment)\"", file: file,
                line: line)
        }
    }

    func testValidIDs() throws {
        let id = try SPIFFEID(parsing: "spiffe://mesh.local/ns/default/sa/orders")
        XCTAssertEqual(id.trustDomain, "mesh.local")
        XCTAssertEqual(id.path, "/ns/default/sa/orders")
        XCTAssertEqual(id.description, "spiffe://mesh.local/ns/default/sa/orders")
        XCTAssertEqual(id.trustDomainID, "spiffe://mesh.local")

        let bare = try SPIFFEID(parsing: "spiffe://example-td_1.org")
        XCTAssertEqual(bare.trustDomain, "example-td_1.org")
        XCTAssertEqual(bare.path, "")

        XCTAssertNotNil(SPIFFEID("spiffe://td/Upper.Case-path_ok/..x/.y"))
        XCTAssertEqual(try SPIFFEID(trustDomain: "td", path: "a/b").description, "spiffe://td/a/b")
        XCTAssertEqual(SPIFFEID("spiffe://td/a"), SPIFFEID("spiffe://td/a"))
    }

    func testScheme() {
        assertInvalid("", "empty")
        assertInvalid("td/path", "missing")
        assertInvalid("https://td/path", "scheme")
        assertInvalid("SPIFFE://td/path", "scheme")
        assertInvalid("spiffe:/td/path", "missing")
        assertInvalid("spiffe:", "missing")
        assertInvalid("spiffe:/", "missing")
        assertInvalid("x:y://td", "scheme must be \"spiffe\" (lowercase), found \"x:y\"")
        XCTAssertEqual(try SPIFFEID(parsing: "spiffe://td/a").path, "/a")
    }

    func testTrustDomainRules() {
        assertInvalid("spiffe://", "trust domain is empty")
        assertInvalid("spiffe:///path", "trust domain is empty")
        assertInvalid("spiffe://Mesh.local/a", "lowercase")
        assertInvalid("spiffe://mesh+local/a", "[a-z0-9.-_]")
        assertInvalid("spiffe://mesh local/a", "[a-z0-9.-_]")
        assertInvalid("spiffe://td:8080/a", "port")
        assertInvalid("spiffe://user@td/a", "userinfo")
        assertInvalid("spiffe://user:pw@td/a", "userinfo")
        XCTAssertNotNil(SPIFFEID("spiffe://" + String(repeating: "a", count: 255)))
        assertInvalid("spiffe://" + String(repeating: "a", count: 256), "longer than 255")
    }

    func testPathRules() {
        assertInvalid("spiffe://td/", "empty")
        assertInvalid("spiffe://td/a/", "empty")
        assertInvalid("spiffe://td//a", "empty")
        assertInvalid("spiffe://td/a/./b", "\".\" or \"..\"")
        assertInvalid("spiffe://td/a/../b", "\".\" or \"..\"")
        assertInvalid("spiffe://td/..", "\".\" or \"..\"")
        assertInvalid("spiffe://td/a%20b", "[A-Za-z0-9.-_]")
        assertInvalid("spiffe://td/a b", "[A-Za-z0-9.-_]")
        assertInvalid("spiffe://td/ä", "[A-Za-z0-9.-_]")
    }

    func testQueryAndFragment() {
        assertInvalid("spiffe://td/a?x=1", "query")
        assertInvalid("spiffe://td/a#frag", "fragment")
        assertInvalid("spiffe://td?x", "query")
    }

    func testTotalLength() {
        let prefix = "spiffe://td/"
        let ok = prefix + String(repeating: "p", count: 2048 - prefix.count)
        XCTAssertNotNil(SPIFFEID(ok))
        assertInvalid(ok + "p", "longer than 2048")
    }

    func testErrorDescriptionNamesInput() {
        XCTAssertThrowsError(try SPIFFEID(parsing: "spiffe://td:1")) { error in
            XCTAssertEqual("\(error)", "invalid SPIFFE ID \"spiffe://td:1\": port is not allowed")
        }
    }
}

import Foundation
import XCTest

@testable import Sidecar

final class TLSIdentityTests: XCTestCase {
    private func assertIdentityError(
        _ mesh: TLSTestMesh, cert: String, key: String, bundle: String = "ca.pem", kind: TLSIdentityError.Kind,
        path expectedPath: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(
            try TLSIdentity(
                certificatePath: mesh.dir.file(cert), privateKeyPath: mesh.dir.file(key),
                trustBundlePath: mesh.dir.file(bundle)),
            file: file, line: line
        ) { error in
            guard let error = error as? TLSIdentityError else {
                return XCTFail("unexpected \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertEqual(error.path, mesh.dir.file(expectedPath), file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(mesh.dir.file(expectedPath) + ": "), file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        }
    }

    func testLoadsValidIdentity() throws {
        let mesh = try TLSTestMesh()
        let issued = try mesh.issue("orders")
        let config = IdentityConfig(
            certificate: issued.certificatePath, privateKey: issued.privateKeyPath, trustBundle: issued.trustBundlePath)
        let identity = try TLSIdentity(config: config)
        XCTAssertEqual(identity.spiffeID.description, "spiffe://mesh.local/ns/default/sa/orders")
        XCTAssertEqual(identity.trustDomain, "mesh.local")
        XCTAssertEqual(identity.serialNumberHex, issued.serialNumberHex)
        XCTAssertEqual(identity.notAfter, issued.notAfter)
        XCTAssertEqual(identity.chain.count, 2)
        XCTAssertEqual(identity.contentHash.count, 64)
        XCTAssertEqual(try TLSIdentity.contentHash(of: config), identity.contentHash)

        // Same files: same hash. Re-issued: different hash.
        XCTAssertEqual(try TLSIdentity(config: config).contentHash, identity.contentHash)
        try mesh.issue("orders")
        XCTAssertNotEqual(try TLSIdentity.contentHash(of: config), identity.contentHash)
        XCTAssertNotEqual(try TLSIdentity(config: config).serialNumberHex, identity.serialNumberHex)
    }

    func testMissingAndUnreadableFiles() throws {
        let mesh = try TLSTestMesh()
        try mesh.issue("a")
        assertIdentityError(mesh, cert: "nope.pem", key: "a-key.pem", kind: .missingFile, path: "nope.pem")
        assertIdentityError(mesh, cert: "a.pem", key: "nope-key.pem", kind: .missingFile, path: "nope-key.pem")
        assertIdentityError(mesh, cert: "a.pem", key: "a-key.pem", bundle: "nope.pem", kind: .missingFile, path: "nope.pem")
        try FileManager.default.createDirectory(atPath: mesh.dir.file("adir"), withIntermediateDirectories: true)
        assertIdentityError(mesh, cert: "adir", key: "a-key.pem", kind: .unreadableFile, path: "adir")
        if getuid() != 0 {  // root reads anything
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: mesh.dir.file("a.pem"))
            assertIdentityError(mesh, cert: "a.pem", key: "a-key.pem", kind: .unreadableFile, path: "a.pem")
        }
    }

    func testNoCertificateOrKeyInFile() throws {
        let mesh = try TLSTestMesh()
        try mesh.issue("a")
        try "hello\n".write(toFile: mesh.dir.file("junk.pem"), atomically: true, encoding: .utf8)
        assertIdentityError(mesh, cert: "junk.pem", key: "a-key.pem", kind: .noCertificate, path: "junk.pem")
        assertIdentityError(mesh, cert: "a.pem", key: "junk.pem", kind: .noPrivateKey, path: "junk.pem")
        assertIdentityError(mesh, cert: "a.pem", key: "a-key.pem", bundle: "junk.pem", kind: .noCertificate, path: "junk.pem")
    }

    func testMismatchedKey() throws {
        let mesh = try TLSTestMesh()
        try mesh.issue("a")
        try mesh.issue("b")
        assertIdentityError(mesh, cert: "a.pem", key: "b-key.pem", kind: .keyMismatch, path: "b-key.pem")
    }

    func testExpiredAndNotYetValid() throws {
        let mesh = try TLSTestMesh()
        let now = Date()
        try MeshCertificateAuthority.issue(
            directory: mesh.dir.path, name: "old", spiffeID: nil,
            notBefore: now.addingTimeInterval(-10 * 86400), notAfter: now.addingTimeInterval(-86400))
        assertIdentityError(mesh, cert: "old.pem", key: "old-key.pem", kind: .expired, path: "old.pem")
        try MeshCertificateAuthority.issue(
            directory: mesh.dir.path, name: "future", spiffeID: nil,
            notBefore: now.addingTimeInterval(86400), notAfter: now.addingTimeInterval(10 * 86400))
        assertIdentityError(mesh, cert: "future.pem", key: "future-key.pem", kind: .notYetValid, path: "future.pem")
    }

    func testSPIFFESANRules() throws {
        let mesh = try TLSTestMesh()
        let now = Date()
        func issue(_ name: String, _ uris: [String]) throws {
            try MeshCertificateAuthority.issue(
                directory: mesh.dir.path, name: name, spiffeID: nil, notBefore: now.addingTimeInterval(-60),
                notAfter: now.addingTimeInterval(3600), uriSANsOverride: uris)
        }
        try issue("none", [])
        assertIdentityError(mesh, cert: "none.pem", key: "none-key.pem", kind: .badSPIFFEID, path: "none.pem")
        try issue("http", ["https://example.com/x"])
        assertIdentityError(mesh, cert: "http.pem", key: "http-key.pem", kind: .badSPIFFEID, path: "http.pem")
        try issue("two", ["spiffe://mesh.local/a", "spiffe://mesh.local/b"])
        assertIdentityError(mesh, cert: "two.pem", key: "two-key.pem", kind: .badSPIFFEID, path: "two.pem")
        try issue("bad", ["spiffe://mesh.local/a/../b"])
        assertIdentityError(mesh, cert: "bad.pem", key: "bad-key.pem", kind: .badSPIFFEID, path: "bad.pem")
        // A non-SPIFFE URI next to the SPIFFE one is fine.
        try issue("mixed", ["https://example.com/x", "spiffe://mesh.local/ns/x/sa/mixed"])
        let identity = try mesh.identity("mixed")
        XCTAssertEqual(identity.spiffeID.path, "/ns/x/sa/mixed")
    }

    func testLeafFromAnotherCAIsRefused() throws {
        let mesh = try TLSTestMesh()
        let other = try TLSTestMesh()
        try other.issue("x")
        try FileManager.default.copyItem(atPath: other.dir.file("x.pem"), toPath: mesh.dir.file("x.pem"))
        try FileManager.default.copyItem(atPath: other.dir.file("x-key.pem"), toPath: mesh.dir.file("x-key.pem"))
        assertIdentityError(mesh, cert: "x.pem", key: "x-key.pem", kind: .untrusted, path: "x.pem")
    }

    func testContentHashIsLowerCaseSHA256Hex() {
        XCTAssertEqual(TLSIdentity.sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(TLSIdentity.sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}

import Foundation
import XCTest

@testable import Sidecar

final class TLSCertificateAuthorityTests: XCTestCase {
    private func runOpenSSL(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func testInitWritesCAFiles() throws {
        let dir = try TLSTemporaryDirectory()
        let ca = try MeshCertificateAuthority.initialize(directory: dir.path, trustDomain: "example.org")
        XCTAssertEqual(ca.certificatePath, dir.file("ca.pem"))
        XCTAssertEqual(ca.privateKeyPath, dir.file("ca-key.pem"))
        XCTAssertEqual(ca.trustDomain, "example.org")
        XCTAssertEqual(try permissions(ca.privateKeyPath), 0o600)

        let text = try runOpenSSL(["x509", "-in", ca.certificatePath, "-noout", "-text"])
        XCTAssertEqual(text.status, 0, text.output)
        XCTAssertTrue(text.output.contains("CA:TRUE"), text.output)
        XCTAssertTrue(text.output.contains("Certificate Sign, CRL Sign"), text.output)
        XCTAssertTrue(text.output.contains("URI:spiffe://example.org"), text.output)
        XCTAssertTrue(text.output.contains("prime256v1") || text.output.contains("P-256"), text.output)
        let key = try runOpenSSL(["pkey", "-in", ca.privateKeyPath, "-noout", "-text"])
        XCTAssertEqual(key.status, 0, key.output)

        // About ten years of validity.
        let (cert, _, domain) = try MeshCertificateAuthority.loadCA(directory: dir.path)
        XCTAssertEqual(domain, "example.org")
        XCTAssertGreaterThan(cert.notAfter.timeIntervalSinceNow, 9.9 * 365 * 86400)

        XCTAssertThrowsError(try MeshCertificateAuthority.initialize(directory: dir.path)) { error in
            XCTAssertEqual(error as? CertificateAuthorityError, .alreadyExists(path: dir.file("ca.pem")))
        }
        XCTAssertThrowsError(try MeshCertificateAuthority.initialize(directory: dir.path + "/x", trustDomain: "Bad TD"))
    }

    func testIssueProducesVerifiableLeafWithSANs() throws {
        let dir = try TLSTemporaryDirectory()
        try MeshCertificateAuthority.initialize(directory: dir.path, trustDomain: "mesh.local")
        let issued = try MeshCertificateAuthority.issue(directory: dir.path, name: "orders", days: 10)
        XCTAssertEqual(issued.certificatePath, dir.file("orders.pem"))
        XCTAssertEqual(issued.privateKeyPath, dir.file("orders-key.pem"))
        XCTAssertEqual(issued.spiffeID.description, "spiffe://mesh.local/ns/default/sa/orders")
        XCTAssertEqual(try permissions(issued.privateKeyPath), 0o600)
        XCTAssertEqual(issued.serialNumberHex.count, 32, issued.serialNumberHex)
        XCTAssertLessThan(issued.notBefore.timeIntervalSinceNow, -200)
        XCTAssertEqual(issued.notAfter.timeIntervalSinceNow, 10 * 86400, accuracy: 120)

        let verify = try runOpenSSL(["verify", "-CAfile", dir.file("ca.pem"), issued.certificatePath])
        XCTAssertEqual(verify.status, 0, verify.output)
        XCTAssertTrue(verify.output.contains(": OK"), verify.output)
        // Usable for both TLS roles.
        for purpose in ["sslserver", "sslclient"] {
            let check = try runOpenSSL(["verify", "-purpose", purpose, "-CAfile", dir.file("ca.pem"), issued.certificatePath])
            XCTAssertEqual(check.status, 0, "\(purpose): \(check.output)")
        }

        let text = try runOpenSSL(["x509", "-in", issued.certificatePath, "-noout", "-text"])
        XCTAssertEqual(text.status, 0, text.output)
        XCTAssertTrue(text.output.contains("URI:spiffe://mesh.local/ns/default/sa/orders"), text.output)
        XCTAssertTrue(text.output.contains("DNS:orders"), text.output)
        XCTAssertTrue(text.output.contains("TLS Web Server Authentication, TLS Web Client Authentication"), text.output)
        XCTAssertTrue(text.output.contains("Digital Signature"), text.output)
        XCTAssertTrue(text.output.contains("CA:FALSE"), text.output)

        // NAME.pem holds the leaf and then the CA.
        let pem = try String(contentsOfFile: issued.certificatePath, encoding: .utf8)
        XCTAssertEqual(pem.components(separatedBy: "BEGIN CERTIFICATE").count - 1, 2)
        let key = try runOpenSSL(["pkey", "-in", issued.privateKeyPath, "-noout"])
        XCTAssertEqual(key.status, 0, key.output)
    }

    func testIssueCustomSPIFFEIDAndErrors() throws {
        let dir = try TLSTemporaryDirectory()
        XCTAssertThrowsError(try MeshCertificateAuthority.issue(directory: dir.path, name: "x")) { error in
            XCTAssertTrue("\(error)".contains("ca.pem"), "\(error)")
        }
        try MeshCertificateAuthority.initialize(directory: dir.path, trustDomain: "td.example")
        let issued = try MeshCertificateAuthority.issue(
            directory: dir.path, name: "pay", spiffeID: "spiffe://td.example/workload/payments")
        XCTAssertEqual(issued.spiffeID.path, "/workload/payments")
        let identity = try TLSIdentity(
            certificatePath: issued.certificatePath, privateKeyPath: issued.privateKeyPath,
            trustBundlePath: issued.trustBundlePath)
        XCTAssertEqual(identity.spiffeID.description, "spiffe://td.example/workload/payments")

        XCTAssertThrowsError(
            try MeshCertificateAuthority.issue(directory: dir.path, name: "a", spiffeID: "spiffe://other.td/a"))
        XCTAssertThrowsError(try MeshCertificateAuthority.issue(directory: dir.path, name: "a", spiffeID: "spiffe://td.example/a/"))
        XCTAssertThrowsError(try MeshCertificateAuthority.issue(directory: dir.path, name: "../evil"))
        XCTAssertThrowsError(try MeshCertificateAuthority.issue(directory: dir.path, name: "a", days: 0))
    }

    func testIndependentCAsDoNotVerifyEachOther() throws {
        let one = try TLSTemporaryDirectory()
        let two = try TLSTemporaryDirectory()
        try MeshCertificateAuthority.initialize(directory: one.path)
        try MeshCertificateAuthority.initialize(directory: two.path)
        let leaf = try MeshCertificateAuthority.issue(directory: two.path, name: "svc")
        // Only the leaf (first certificate) against the other CA.
        let pem = try String(contentsOfFile: leaf.certificatePath, encoding: .utf8)
        let leafOnly = pem.components(separatedBy: "-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
        let leafPath = two.file("leaf-only.pem")
        try leafOnly.write(toFile: leafPath, atomically: true, encoding: .utf8)
        let verify = try runOpenSSL(["verify", "-CAfile", one.file("ca.pem"), leafPath])
        XCTAssertNotEqual(verify.status, 0, verify.output)
    }
}

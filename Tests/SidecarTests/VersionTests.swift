import XCTest
@testable import Sidecar
final class VersionTests: XCTestCase { func testVersion() { XCTAssertFalse(SidecarVersion.string.isEmpty) } }

import Foundation
import XCTest
@testable import Sidecar

/// Shared helpers for the `Config*Tests` files.
enum ConfigTestSupport {
    /// `examples/NAME` in the package root, found from this file's location.
    static func examplePath(_ name: String, file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples").appendingPathComponent(name).path
    }

    /// The problems `parse(yaml:)` reports, as `PATH: message` lines; empty when the config is valid.
    static func problems(_ yaml: String) -> [String] {
        do {
            _ = try SidecarConfig.parse(yaml: yaml)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    /// A valid plaintext config to which a test adds one mistake.
    static let base = """
        service: orders
        inbound:
          - listen: 127.0.0.1:15006
            tls: disabled
            forwardTo: 127.0.0.1:8080
        outbound:
          - listen: 127.0.0.1:15001
            routes:
              - cluster: payments
        clusters:
          - name: payments
            tls: { mode: disabled }
            endpoints:
              - { address: 127.0.0.1:9001 }
        """

    /// A small deterministic generator for the fuzz test.
    struct SeededGenerator: RandomNumberGenerator {
        private var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

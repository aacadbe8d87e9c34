import Atomics
import XCTest
@testable import Sidecar

/// Shared helpers for the `Balancer*Tests`.
enum BalancerTestSupport {
    /// Endpoints `10.0.<block>.<i+1>:8080` with the given weights.
    static func endpoints(_ weights: [Int], block: Int = 0) -> [LoopEndpoint] {
        weights.enumerated().map { index, weight in
            LoopEndpoint(endpoint: Endpoint(address: SocketAddressSpec(host: "10.0.\(block).\(index + 1)", port: 8080), weight: weight))
        }
    }

    /// The letter of `choice` in `endpoints` (`a` for the first), `-` for nil.
    static func label(_ choice: LoopEndpoint?, in endpoints: [LoopEndpoint]) -> String {
        guard let choice, let index = endpoints.firstIndex(where: { $0 === choice }) else { return "-" }
        return String(UnicodeScalar(UInt8(ascii: "a") + UInt8(index)))
    }

    /// How many of `picks` picks went to each endpoint, in list order.
    static func counts(
        _ endpoints: [LoopEndpoint],
        picks: Int,
        _ pick: () -> LoopEndpoint?
    ) -> [Int] {
        var counts = [Int](repeating: 0, count: endpoints.count)
        for _ in 0..<picks {
            guard let choice = pick(), let index = endpoints.firstIndex(where: { $0 === choice }) else {
                XCTFail("no pick")
                return counts
            }
            counts[index] += 1
        }
        return counts
    }

    static func makeUnavailable(_ loopEndpoint: LoopEndpoint) {
        loopEndpoint.endpoint.healthy.store(false, ordering: .relaxed)
    }

    /// `count` distinct hash keys.
    static func keys(_ count: Int) -> [Substring] {
        (0..<count).map { Substring("user-\($0)") }
    }

    static func config(_ policy: LoadBalancingPolicy) -> LoadBalancingConfig {
        var config = LoadBalancingConfig()
        config.policy = policy
        config.hashOnHeader = "x-user-id"
        return config
    }
}

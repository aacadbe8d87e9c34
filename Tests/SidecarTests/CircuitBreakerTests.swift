import Atomics
import XCTest
@testable import Sidecar

final class CircuitBreakerTests: XCTestCase {
    func testEachLimitIsEnforcedIndependently() {
        var config = CircuitBreakerConfig()
        config.maxConnections = 2
        config.maxPendingRequests = 1
        config.maxRequests = 3
        config.maxRetries = 0
        let breaker = CircuitBreaker(config)

        XCTAssertTrue(breaker.tryAcquire(.connections))
        XCTAssertTrue(breaker.tryAcquire(.connections))
        XCTAssertFalse(breaker.tryAcquire(.connections))
        XCTAssertEqual(breaker.current(.connections), 2, "a refused acquire takes nothing")

        XCTAssertTrue(breaker.tryAcquire(.pendingRequests))
        XCTAssertFalse(breaker.tryAcquire(.pendingRequests))

        for _ in 0..<3 { XCTAssertTrue(breaker.tryAcquire(.requests)) }
        XCTAssertFalse(breaker.tryAcquire(.requests))
        breaker.release(.requests)
        XCTAssertTrue(breaker.tryAcquire(.requests), "a released slot is available again")

        XCTAssertFalse(breaker.tryAcquire(.retries), "maxRetries 0 allows no retry in flight")
    }

    func testConcurrentAcquiresNeverExceedTheLimit() {
        var config = CircuitBreakerConfig()
        config.maxRequests = 100
        let breaker = CircuitBreaker(config)
        let granted = ManagedAtomic(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<1000 where breaker.tryAcquire(.requests) { granted.wrappingIncrement(ordering: .relaxed) }
        }
        XCTAssertEqual(granted.load(ordering: .relaxed), 100)
        XCTAssertEqual(breaker.current(.requests), 100)
    }
}

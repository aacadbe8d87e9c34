import Synchronization
import NIOConcurrencyHelpers
import NIOCore

/// Passive health for one cluster: counts each endpoint's consecutive 5xx and gateway errors
/// (502/503/504, connect failures, resets and timeouts — Envoy leaves timeouts out; we don't) and
/// ejects an endpoint the moment a count reaches its threshold, for `baseEjectionTime` × the
/// number of times it was ejected (at most 10×), while never more than `maxEjectionPercent` of the
/// endpoints are ejected at once (but one may always be ejected when there are two or more).
///
/// Outcomes are recorded with atomics on the endpoint (no lock per request); the lock here is taken
/// only to decide an ejection or to end ejections, which happens at most once per threshold crossing
/// and once per sweep. Time is passed in, so the rules are tested without sleeping.
final class OutlierDetector: Sendable {
    enum Outcome: Sendable {
        case success
        /// A 5xx other than 502/503/504.
        case serverError
        /// 502/503/504, connect failure, reset, timeout.
        case gatewayError
    }

    let config: OutlierDetectionConfig
    private let ejected = NIOLockedValueBox<[ObjectIdentifier: Endpoint]>([:])

    init(config: OutlierDetectionConfig) {
        self.config = config
    }

    /// How many endpoints may be ejected at once among `total`.
    static func maxEjected(total: Int, percent: Int) -> Int {
        guard total >= 2 else { return 0 }
        return max(1, total * percent / 100)
    }

    /// How long an endpoint ejected for the `times`-th time stays out.
    static func ejectionDuration(base: TimeAmount, times: Int) -> TimeAmount {
        .nanoseconds(base.nanoseconds * Int64(min(max(times, 1), 10)))
    }

    /// A success: the endpoint's error streaks end (no state of the detector is needed).
    @inline(__always)
    static func recordSuccess(_ endpoint: Endpoint) {
        if endpoint.consecutive5xx.load(ordering: .relaxed) != 0 { endpoint.consecutive5xx.store(0, ordering: .relaxed) }
        if endpoint.consecutiveGatewayErrors.load(ordering: .relaxed) != 0 { endpoint.consecutiveGatewayErrors.store(0, ordering: .relaxed) }
    }

    /// Records one attempt's outcome; returns true when this outcome ejected the endpoint. `now`
    /// is read only when the outcome may eject (a success, nearly every call, needs no clock).
    @discardableResult
    func record(_ outcome: Outcome, endpoint: Endpoint, endpoints: [Endpoint], now: @autoclosure () -> NIODeadline) -> Bool {
        switch outcome {
        case .success:
            Self.recordSuccess(endpoint)
            return false
        case .serverError:
            endpoint.consecutiveGatewayErrors.store(0, ordering: .relaxed)
            let count = endpoint.consecutive5xx.wrappingAdd(1, ordering: .relaxed).newValue
            return count >= config.consecutive5xx ? tryEject(endpoint, endpoints: endpoints, now: now()) : false
        case .gatewayError:
            let fives = endpoint.consecutive5xx.wrappingAdd(1, ordering: .relaxed).newValue
            let gateways = endpoint.consecutiveGatewayErrors.wrappingAdd(1, ordering: .relaxed).newValue
            if gateways >= config.consecutiveGatewayErrors || fives >= config.consecutive5xx {
                return tryEject(endpoint, endpoints: endpoints, now: now())
            }
            return false
        }
    }

    /// Ejects `endpoint` unless it already is, or the percentage cap forbids it.
    func tryEject(_ endpoint: Endpoint, endpoints: [Endpoint], now: NIODeadline) -> Bool {
        ejected.withLockedValue { ejected in
            let id = ObjectIdentifier(endpoint)
            guard ejected[id] == nil else { return false }
            let members = endpoints.filter { !$0.removed.load(ordering: .relaxed) }.count
            guard ejected.count < Self.maxEjected(total: members, percent: config.maxEjectionPercent) else { return false }
            let times = endpoint.ejectionCount.wrappingAdd(1, ordering: .relaxed).newValue
            let until = now + Self.ejectionDuration(base: config.baseEjectionTime, times: times)
            endpoint.ejectedUntil.store(until.uptimeNanoseconds, ordering: .relaxed)
            endpoint.consecutive5xx.store(0, ordering: .relaxed)
            endpoint.consecutiveGatewayErrors.store(0, ordering: .relaxed)
            ejected[id] = endpoint
            return true
        }
    }

    /// Returns ejected endpoints whose time is up (and those no longer in the cluster) to service.
    func sweep(now: NIODeadline) {
        ejected.withLockedValue { ejected in
            for (id, endpoint) in ejected {
                let until = endpoint.ejectedUntil.load(ordering: .relaxed)
                if now.uptimeNanoseconds >= until || endpoint.removed.load(ordering: .relaxed) {
                    endpoint.ejectedUntil.store(0, ordering: .relaxed)
                    ejected.removeValue(forKey: id)
                }
            }
        }
    }

    var ejectedCount: Int { ejected.withLockedValue { $0.count } }
}

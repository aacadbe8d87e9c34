import NIOConcurrencyHelpers

/// A client context's session cache: the latest resumable session per server key (SNI and/or
/// address), bounded in size. Thread-safe: one `TLSContext` serves connections on every event loop.
final class TLSSessionCache: @unchecked Sendable {
    // @unchecked: all state is guarded by `lock` (NIO's, not Foundation's: this runs for every
    // new upstream connection).
    private let lock = NIOLock()
    private var sessions: [String: TLSSession] = [:]
    private var order: [String] = []
    let capacity: Int

    init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    func store(_ session: TLSSession, for key: String) {
        lock.lock()
        defer { lock.unlock() }
        if sessions.updateValue(session, forKey: key) == nil {
            order.append(key)
            if order.count > capacity {
                let evicted = order.removeFirst()
                sessions[evicted] = nil
            }
        }
    }

    /// The session for `key`; a single-use (TLS 1.3) one is removed from the cache.
    func take(for key: String) -> TLSSession? {
        lock.lock()
        defer { lock.unlock() }
        guard let session = sessions[key] else { return nil }
        if session.isSingleUse {
            sessions[key] = nil
            order.removeAll { $0 == key }
        }
        return session
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return sessions.count
    }
}

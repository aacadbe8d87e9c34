import NIOCore

/// The downstream connections open on one event loop, so that drain can reach each of them.
/// Touched only on its loop.
final class ConnectionTracker {
    private var open: [ObjectIdentifier: Channel] = [:]
    private(set) var count = 0
    /// Called with the change in open connections (+1 / -1), e.g. for a gauge.
    private let onChange: (Int) -> Void

    init(onChange: @escaping (Int) -> Void = { _ in }) {
        self.onChange = onChange
    }

    func opened(_ handler: AnyObject, channel: Channel) {
        open[ObjectIdentifier(handler)] = channel
        count = open.count
        onChange(1)
    }

    func closed(_ handler: AnyObject) {
        if open.removeValue(forKey: ObjectIdentifier(handler)) != nil {
            count = open.count
            onChange(-1)
        }
    }

    /// Asks every connection to finish its current request and close.
    func quiesceAll() {
        for channel in open.values {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Closes every connection now (end of drain).
    func closeAll() {
        for channel in open.values {
            channel.close(promise: nil)
        }
    }
}

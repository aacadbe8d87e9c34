import NIOCore

/// The downstream connections open on one event loop, so that drain can reach each of them.
/// Touched only on its loop.
final class ConnectionTracker {
    private var open: [ObjectIdentifier: Channel] = [:]
    private(set) var count = 0
    private var directions: [ObjectIdentifier: TrafficDirection] = [:]
    /// Called with the change in open connections (+1 / -1) per direction, for a gauge.
    private let onChange: (TrafficDirection, Int) -> Void

    init(onChange: @escaping (TrafficDirection, Int) -> Void = { _, _ in }) {
        self.onChange = onChange
    }

    func opened(_ handler: AnyObject, channel: Channel, direction: TrafficDirection) {
        let id = ObjectIdentifier(handler)
        open[id] = channel
        directions[id] = direction
        count = open.count
        onChange(direction, 1)
    }

    func closed(_ handler: AnyObject) {
        let id = ObjectIdentifier(handler)
        if open.removeValue(forKey: id) != nil, let direction = directions.removeValue(forKey: id) {
            count = open.count
            onChange(direction, -1)
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

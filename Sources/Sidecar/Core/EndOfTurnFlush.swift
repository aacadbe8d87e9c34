import NIOCore

/// Coalesces flush requests into one flush at the end of the current event-loop turn (after the
/// loop has handled this round of I/O): what many streams, or one message's head, body and end,
/// produce in one turn leaves in one write. Only used on its event loop.
final class EndOfTurnFlush {
    private let flush: () -> Void
    private var scheduled = false

    /// `flush` should not hold its owner strongly (the owner holds this).
    init(_ flush: @escaping () -> Void) {
        self.flush = flush
    }

    func request(on eventLoop: EventLoop) {
        guard !scheduled else { return }
        scheduled = true
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { [self] in
            scheduled = false
            flush()
        }
    }
}

import NIOCore

/// Coalesces flush requests into one flush at the end of the current event-loop turn (after the
/// loop has handled this round of I/O): what many streams, or one message's head, body and end,
/// produce in one turn leaves in one write. Only used on its event loop.
///
/// It reaches its owner without a weak reference (which would give the owner a side table and
/// send every retain and release of it down the runtime's slow path; the owners are retained and
/// released several times a request): the owner holds this object, is its only holder, and calls
/// `ownerIsGone()` from its `deinit`. A flush already scheduled keeps this object alive until it
/// runs and then finds no owner. The reference is unowned(unsafe) for that reason: it is read only
/// on the loop, and the owner clears it before it is freed.
final class EndOfTurnFlush {
    private unowned(unsafe) var owner: (any EndOfTurnFlushing)?
    private var scheduled = false

    init() {}

    func request(for requester: any EndOfTurnFlushing, on eventLoop: EventLoop) {
        owner = requester
        guard !scheduled else { return }
        scheduled = true
        // Captures this object, not the owner.
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { [self] in
            scheduled = false
            self.owner?.flushAtEndOfTurn()
        }
    }

    /// Called by the owner's `deinit`: a flush still scheduled does nothing.
    func ownerIsGone() {
        owner = nil
    }
}

import NIOCore

/// The request path's timers (request, per-try and backoff) for one event loop: a hashed timing
/// wheel of `slotCount` slots, each a doubly linked list of `WheelTimer`s, advanced by one
/// NIO scheduled task every `tick` while any timer is armed.
///
/// A NIO `scheduleTask` per request costs a promise, a future, a closure context, a heap entry
/// (re-sifted on every cancel) and a weak reference; arming and cancelling a wheel timer is a
/// few pointer writes. Timers fire on the first tick at or after their deadline: never early,
/// at most one tick (plus the loop's own latency) late. Only touched on its event loop.
final class TimerWheel {
    let tickNanoseconds: UInt64
    private let eventLoop: EventLoop
    private var slots: [WheelTimer?]
    private let mask: UInt64
    /// The last tick whose slot was processed.
    private var currentTick: UInt64 = 0
    private(set) var armedCount = 0
    private var ticking = false

    init(eventLoop: EventLoop, tick: TimeAmount = .milliseconds(10), slotCount: Int = 512) {
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0, "slotCount must be a power of two")
        self.eventLoop = eventLoop
        self.tickNanoseconds = UInt64(max(1, tick.nanoseconds))
        self.slots = Array(repeating: nil, count: slotCount)
        self.mask = UInt64(slotCount - 1)
    }

    /// Arms `timer` to fire `amount` from now (re-arming it if it was armed).
    func arm(_ timer: WheelTimer, in amount: TimeAmount) {
        if timer.isArmed { cancel(timer) }
        let now = eventLoop.now.uptimeNanoseconds
        if armedCount == 0 && !ticking { currentTick = now / tickNanoseconds }
        let deadline = now &+ UInt64(max(0, amount.nanoseconds))
        // Round up: a timer never fires before its deadline.
        let tick = max((deadline &+ tickNanoseconds &- 1) / tickNanoseconds, currentTick &+ 1)
        timer.deadlineTick = tick
        let slot = Int(tick & mask)
        timer.next = slots[slot]
        timer.previous = nil
        slots[slot]?.previous = timer
        slots[slot] = timer
        timer.isArmed = true
        armedCount += 1
        if !ticking { scheduleTick() }
    }

    /// Disarms `timer`; nothing happens when it is not armed.
    func cancel(_ timer: WheelTimer) {
        guard timer.isArmed else { return }
        unlink(timer)
    }

    private func unlink(_ timer: WheelTimer) {
        let next = timer.next
        if let previous = timer.previous {
            previous.next = next
        } else {
            slots[Int(timer.deadlineTick & mask)] = next
        }
        next?.previous = timer.previous
        timer.next = nil
        timer.previous = nil
        timer.isArmed = false
        armedCount -= 1
    }

    private func scheduleTick() {
        ticking = true
        let deadline = NIODeadline.uptimeNanoseconds((currentTick &+ 1) &* tickNanoseconds)
        eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [self] in
            advance(toNanoseconds: eventLoop.now.uptimeNanoseconds)
            ticking = false
            if armedCount > 0 { scheduleTick() }
        }
    }

    /// Fires every timer whose tick has come by `nanoseconds` (uptime).
    func advance(toNanoseconds nanoseconds: UInt64) {
        let target = nanoseconds / tickNanoseconds
        guard target > currentTick else { return }
        // After a long stall every slot is visited once: later rounds' timers stay where they are.
        let steps = min(target &- currentTick, mask &+ 1)
        var tick = target &- steps
        while tick < target {
            tick &+= 1
            // Timers armed by a callback land after `currentTick`, so never in a slot this pass
            // has already visited.
            currentTick = tick
            fireDue(slot: Int(tick & mask), upTo: target)
        }
    }

    /// Fires the timers of one slot that are due. A fired timer's callback may arm or cancel any
    /// timer, this slot's included, so the scan restarts from the slot's head after each firing.
    private func fireDue(slot: Int, upTo target: UInt64) {
        var node = slots[slot]
        while let timer = node {
            if timer.deadlineTick <= target {
                unlink(timer)
                timer.target.wheelTimerFired(timer)
                node = slots[slot]
            } else {
                node = timer.next
            }
        }
    }
}

import NIOCore

/// The request path's timers (request, per-try and backoff) for one event loop: a hashed timing
/// wheel of `slotCount` slots of one `tick` each, every slot a doubly linked list of
/// `WheelTimer`s. One NIO scheduled task wakes the wheel at the next slot that holds a timer
/// (a slot may hold timers of later rotations too: waking for them costs a scan), so an idle
/// wheel costs nothing and a busy one wakes at most once a tick.
///
/// A NIO `scheduleTask` per request costs a promise, a future, a closure context, a heap entry
/// (re-sifted on every cancel) and a weak reference; arming and cancelling a wheel timer is a
/// few pointer writes. A timer fires at the start of the tick its deadline falls in: at most one
/// tick (1 ms) early (early rather than late: a sidecar forwarding a gRPC deadline should answer
/// it before the app does); one armed for a tick the wheel has already passed (a deadline less
/// than a tick away, armed from a timer's callback) fires on the next tick, under a tick late.
/// Beyond that, a timer is as late as its event loop is busy. Only touched on its event loop.
final class TimerWheel {
    let tickNanoseconds: UInt64
    private let eventLoop: EventLoop
    private var slots: [WheelTimer?]
    private let mask: UInt64
    /// The last tick whose slot was processed.
    private var currentTick: UInt64 = 0
    private(set) var armedCount = 0
    /// The wake-up task, and the tick it is for.
    private var wakeUp: Scheduled<Void>?
    private var wakeUpTick: UInt64 = 0
    /// True while `advance` runs (it reschedules the wake-up itself when done).
    private var advancing = false
    /// Disarmed timers handed back by owners that went away, for the next owners: an exchange
    /// takes a timer per request, and this keeps that from being an allocation per request.
    private var spare: [WheelTimer] = []
    static let spareLimit = 1024

    init(eventLoop: EventLoop, tick: TimeAmount = .milliseconds(1), slotCount: Int = 1024) {
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0, "slotCount must be a power of two")
        self.eventLoop = eventLoop
        self.tickNanoseconds = UInt64(max(1, tick.nanoseconds))
        self.slots = Array(repeating: nil, count: slotCount)
        self.mask = UInt64(slotCount - 1)
    }

    /// A disarmed timer for `target` (a recycled one when there is one).
    func makeTimer(kind: UInt8, target: any WheelTimerTarget) -> WheelTimer {
        guard let timer = spare.popLast() else { return WheelTimer(kind: kind, target: target) }
        timer.kind = kind
        timer.target = target
        return timer
    }

    /// Disarms `timer` and keeps it for `makeTimer`: its owner must not touch it again.
    func recycle(_ timer: WheelTimer) {
        cancel(timer)
        if spare.count < Self.spareLimit { spare.append(timer) }
    }

    /// Arms `timer` to fire `amount` from now (re-arming it if it was armed).
    func arm(_ timer: WheelTimer, in amount: TimeAmount) {
        if timer.isArmed { cancel(timer) }
        let now = eventLoop.now.uptimeNanoseconds
        if armedCount == 0 && wakeUp == nil && !advancing { currentTick = now / tickNanoseconds }
        let deadline = now &+ UInt64(max(0, amount.nanoseconds))
        let tick = max(deadline / tickNanoseconds, currentTick &+ 1)
        timer.deadlineTick = tick
        let slot = Int(tick & mask)
        timer.next = slots[slot]
        timer.previous = nil
        slots[slot]?.previous = timer
        slots[slot] = timer
        timer.isArmed = true
        armedCount += 1
        if !advancing, wakeUp == nil || tick < wakeUpTick {
            scheduleWakeUp(at: tick)
        }
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

    private func scheduleWakeUp(at tick: UInt64) {
        wakeUp?.cancel()
        wakeUpTick = tick
        wakeUp = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(
            deadline: .uptimeNanoseconds(tick &* tickNanoseconds)
        ) { [self] in
            wakeUp = nil
            advance(toNanoseconds: eventLoop.now.uptimeNanoseconds)
        }
    }

    /// The next tick whose slot holds a timer (of this rotation or a later one).
    private func nextOccupiedTick() -> UInt64? {
        guard armedCount > 0 else { return nil }
        var tick = currentTick &+ 1
        let limit = currentTick &+ mask &+ 1
        while tick <= limit {
            if slots[Int(tick & mask)] != nil { return tick }
            tick &+= 1
        }
        return nil
    }

    /// Fires every timer whose tick has come by `nanoseconds` (uptime).
    func advance(toNanoseconds nanoseconds: UInt64) {
        let target = nanoseconds / tickNanoseconds
        advancing = true
        defer {
            advancing = false
            if let next = nextOccupiedTick() {
                if wakeUp == nil || next < wakeUpTick { scheduleWakeUp(at: next) }
            } else {
                wakeUp?.cancel()
                wakeUp = nil
            }
        }
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

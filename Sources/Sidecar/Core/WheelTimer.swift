/// What a `WheelTimer` calls when it fires.
protocol WheelTimerTarget: AnyObject {
    func wheelTimerFired(_ timer: WheelTimer)
}

/// One timer of a `TimerWheel`: a list node its owner keeps and re-arms, so arming takes no
/// allocation. The owner must cancel it (or hand it back with `TimerWheel.recycle`) before it
/// goes away (its target is not retained: the owner holds the timer, not the other way round).
final class WheelTimer {
    /// Says which of its owner's timers this is.
    var kind: UInt8
    unowned(unsafe) var target: any WheelTimerTarget

    /// The wheel tick at which it fires.
    var deadlineTick: UInt64 = 0
    /// Linked into a wheel slot while armed; the slot's list holds it strongly.
    var next: WheelTimer?
    unowned(unsafe) var previous: WheelTimer?
    var isArmed = false

    init(kind: UInt8, target: any WheelTimerTarget) {
        self.kind = kind
        self.target = target
    }
}

import NIOCore
import NIOEmbedded
import XCTest
@testable import Sidecar

final class TimerWheelTests: XCTestCase {
    /// Records when (in loop nanoseconds) each of its timers fired; can arm or cancel from a callback.
    private final class Recorder: WheelTimerTarget {
        let loop: EmbeddedEventLoop
        var fired: [(kind: UInt8, at: UInt64)] = []
        var onFire: ((WheelTimer) -> Void)?
        init(loop: EmbeddedEventLoop) { self.loop = loop }
        func wheelTimerFired(_ timer: WheelTimer) {
            fired.append((timer.kind, loop.now.uptimeNanoseconds))
            onFire?(timer)
        }
    }

    private func ms(_ value: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(value) * 1_000_000) }

    func testFiresAtTheStartOfTheTickOfItsDeadline() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, tick: .milliseconds(10), slotCount: 64)
        let recorder = Recorder(loop: loop)
        let timer = WheelTimer(kind: 1, target: recorder)
        loop.advanceTime(to: ms(3))
        wheel.arm(timer, in: .milliseconds(25))  // deadline 28 ms → the tick that starts at 20 ms
        loop.advanceTime(to: ms(19))
        XCTAssertTrue(recorder.fired.isEmpty)
        loop.advanceTime(to: ms(20))
        XCTAssertEqual(recorder.fired.map(\.at), [20_000_000])
        XCTAssertFalse(timer.isArmed)
        XCTAssertEqual(wheel.armedCount, 0)
    }

    func testTheDefaultWheelFiresWithinAMillisecondOfTheDeadline() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop)
        let recorder = Recorder(loop: loop)
        let timers = (0..<50).map { WheelTimer(kind: UInt8($0), target: recorder) }
        var deadlines: [UInt8: UInt64] = [:]
        for (index, timer) in timers.enumerated() {
            loop.advanceTime(by: .microseconds(Int64(137 * index)))
            let amount = TimeAmount.microseconds(Int64(300_000 + 7_919 * index))
            deadlines[timer.kind] = loop.now.uptimeNanoseconds + UInt64(amount.nanoseconds)
            wheel.arm(timer, in: amount)
        }
        loop.advanceTime(by: .seconds(2))
        XCTAssertEqual(recorder.fired.count, 50)
        for fired in recorder.fired {
            let deadline = deadlines[fired.kind]!
            XCTAssertLessThanOrEqual(fired.at, deadline)
            XCTAssertLessThan(deadline - fired.at, 1_000_000)
        }
    }

    func testCancelledTimersDoNotFireAndTheOthersKeepTheirOrder() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, tick: .milliseconds(10), slotCount: 64)
        let recorder = Recorder(loop: loop)
        let timers = (0..<5).map { WheelTimer(kind: UInt8($0), target: recorder) }
        for (index, timer) in timers.enumerated() { wheel.arm(timer, in: .milliseconds(Int64(100 - index * 10))) }
        wheel.cancel(timers[2])
        wheel.cancel(timers[2])  // twice is harmless
        XCTAssertEqual(wheel.armedCount, 4)
        loop.advanceTime(to: ms(200))
        XCTAssertEqual(recorder.fired.map(\.kind), [4, 3, 1, 0])
        XCTAssertEqual(recorder.fired.map(\.at), [60, 70, 90, 100].map { UInt64($0) * 1_000_000 })
    }

    func testTimersBeyondOneRotationWaitForTheirRound() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, tick: .milliseconds(10), slotCount: 8)  // 80 ms per rotation
        let recorder = Recorder(loop: loop)
        let long = WheelTimer(kind: 1, target: recorder)
        let short = WheelTimer(kind: 2, target: recorder)
        wheel.arm(long, in: .milliseconds(250))
        wheel.arm(short, in: .milliseconds(10))  // same slot as `long` in an earlier round
        loop.advanceTime(to: ms(249))
        XCTAssertEqual(recorder.fired.map(\.kind), [2])
        loop.advanceTime(to: ms(250))
        XCTAssertEqual(recorder.fired.map(\.kind), [2, 1])
        XCTAssertEqual(recorder.fired.last?.at, 250_000_000)
    }

    func testReArmingMovesTheTimerAndCallbacksMayArmTimers() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, tick: .milliseconds(10), slotCount: 16)
        let recorder = Recorder(loop: loop)
        let timer = WheelTimer(kind: 1, target: recorder)
        let follower = WheelTimer(kind: 2, target: recorder)
        wheel.arm(timer, in: .milliseconds(50))
        wheel.arm(timer, in: .milliseconds(20))  // re-armed: fires once, at 20 ms
        recorder.onFire = { fired in
            if fired === timer { wheel.arm(follower, in: .zero) }
        }
        loop.advanceTime(to: ms(100))
        XCTAssertEqual(recorder.fired.map(\.kind), [1, 2])
        XCTAssertEqual(recorder.fired.map(\.at), [20_000_000, 30_000_000])
        XCTAssertEqual(wheel.armedCount, 0)
    }

    func testALongStallFiresEverythingDueOnce() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, tick: .milliseconds(10), slotCount: 8)
        let recorder = Recorder(loop: loop)
        let timers = (0..<20).map { WheelTimer(kind: UInt8($0), target: recorder) }
        for (index, timer) in timers.enumerated() { wheel.arm(timer, in: .milliseconds(Int64(index * 15))) }
        // Jump far past every deadline in one step (as a loop blocked for a second would).
        wheel.advance(toNanoseconds: 1_000_000_000)
        XCTAssertEqual(recorder.fired.count, 20)
        XCTAssertEqual(Set(recorder.fired.map(\.kind)).count, 20)
        XCTAssertEqual(wheel.armedCount, 0)
    }

    func testARecycledTimerIsDisarmedAndServesItsNextOwner() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, tick: .milliseconds(10), slotCount: 64)
        let first = Recorder(loop: loop)
        let second = Recorder(loop: loop)
        let timer = wheel.makeTimer(kind: 1, target: first)
        wheel.arm(timer, in: .milliseconds(50))
        wheel.recycle(timer)  // its owner went away while it was armed
        XCTAssertFalse(timer.isArmed)
        XCTAssertEqual(wheel.armedCount, 0)
        let reused = wheel.makeTimer(kind: 2, target: second)
        XCTAssertTrue(reused === timer, "the spare timer is handed out again")
        wheel.arm(reused, in: .milliseconds(20))
        loop.advanceTime(to: ms(100))
        XCTAssertTrue(first.fired.isEmpty, "the first owner is never called after recycling")
        XCTAssertEqual(second.fired.map(\.kind), [2])
        XCTAssertFalse(wheel.makeTimer(kind: 3, target: second) === timer, "a timer in use is not spare")
    }
}

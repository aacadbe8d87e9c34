#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock timestamps for logs, cached per second per thread-free caller (cheap to call per request).
enum WallClock {
    /// Nanoseconds since the Unix epoch (span start times; later times are derived from the
    /// monotonic clock, so a span's duration never goes negative).
    static func unixNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// `2026-11-26T12:34:56.789Z`.
    static func nowISO8601() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = ts.tv_nsec / 1_000_000
        return String(unsafeUninitializedCapacity: 24) { out in
            var index = 0
            func put(_ value: Int, _ width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                var v = value
                while divisor > 0 {
                    out[index] = UInt8(ascii: "0") + UInt8((v / divisor) % 10)
                    index += 1
                    v %= divisor
                    divisor /= 10
                }
            }
            func sep(_ c: Character) {
                out[index] = c.asciiValue!
                index += 1
            }
            put(Int(parts.tm_year) + 1900, 4); sep("-")
            put(Int(parts.tm_mon) + 1, 2); sep("-")
            put(Int(parts.tm_mday), 2); sep("T")
            put(Int(parts.tm_hour), 2); sep(":")
            put(Int(parts.tm_min), 2); sep(":")
            put(Int(parts.tm_sec), 2); sep(".")
            put(millis, 3); sep("Z")
            return index
        }
    }
}

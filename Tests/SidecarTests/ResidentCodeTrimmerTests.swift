import XCTest
@testable import Sidecar

final class ResidentCodeTrimmerTests: XCTestCase {
    func testOnlyCleanReadOnlyPrivateFileMappingsAreChosen() {
        let smaps = """
            55d0a0000000-55d0a0100000 r--p 00000000 fe:00 123 /usr/bin/sidecar
            Rss:                 512 kB
            Private_Dirty:       512 kB
            Anonymous:             0 kB
            VmFlags: rd mr mw me
            55d0a0100000-55d0a0200000 r-xp 00100000 fe:00 123 /usr/bin/sidecar
            Rss:                1024 kB
            Anonymous:             0 kB
            55d0a0200000-55d0a0300000 r--p 00200000 fe:00 123 /usr/bin/sidecar
            Rss:                 256 kB
            Anonymous:             8 kB
            55d0a0300000-55d0a0400000 rw-p 00300000 fe:00 123 /usr/bin/sidecar
            Rss:                 128 kB
            Anonymous:           128 kB
            55d0a0400000-55d0a0500000 rw-p 00000000 00:00 0
            Rss:                 64 kB
            7f0000000000-7f0000001000 r-xp 00000000 00:00 0                          [vdso]
            Rss:                   4 kB
            7f0000100000-7f0000200000 r-xs 00000000 fe:00 456 /dev/shm/shared
            Rss:                  16 kB
            7f0000200000-7f0000300000 r-xp 00000000 fe:00 789 /usr/lib/libssl.so.3
            Rss:                   0 kB
            7f0000300000-7f0000400000 r-xp 00000000 fe:00 790 /usr/lib/libcrypto.so.3
            Rss:                 100 kB
            Anonymous:             0 kB
            """
        let chosen = ResidentCodeTrimmer.cleanReadOnlyFileMappings(in: Array(smaps.utf8))
        XCTAssertEqual(chosen, [
            // Read-only data of a binary not yet written back ("Private_Dirty" but no anonymous page).
            .init(start: 0x55d0_a000_0000, end: 0x55d0_a010_0000, residentBytes: 512 * 1024),
            .init(start: 0x55d0_a010_0000, end: 0x55d0_a020_0000, residentBytes: 1024 * 1024),
            .init(start: 0x7f00_0030_0000, end: 0x7f00_0040_0000, residentBytes: 100 * 1024),
        ])
    }

    /// The test process trims its own code and keeps running it (pages come back on use).
    func testTrimmingThisProcessReleasesPagesAndCodeStillRuns() {
        let released = ResidentCodeTrimmer.trim()
        XCTAssertGreaterThan(released.readOnlyMappings, 0)
        var sum = 0
        for value in 0..<1000 { sum &+= String(value).utf8.count }
        XCTAssertEqual(sum, 2890)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Lets go of the code and constant data pages the process faulted in but does not use.
///
/// When a page of a file mapping is first touched, the kernel maps it and its neighbours
/// ("fault-around", 64 KiB windows). The sidecar is one static binary of ~40 MiB (Swift runtime,
/// Foundation, SwiftNIO) plus OpenSSL and nghttp2, and start-up (configuration, certificates,
/// Foundation's initialisation) touches code all over it: ~15 MiB of its resident set are such
/// windows, most of whose pages never run again.
///
/// `trim()` drops the pages of every clean, read-only file mapping from this process
/// (`MADV_DONTNEED`: they stay in the page cache, shared with every other process mapping the
/// file, and a touch maps them again with a minor fault), after marking it `MADV_RANDOM` (older
/// kernels then map a page alone; 6.x kernels still fault around it — checked on this machine's
/// 6.18 — which is why release builds also lay out the code used after start-up together:
/// `bench/hot-functions.order`). Only mappings without anonymous pages
/// qualify: a page of a private file mapping that was ever written (relocated data) is a private
/// anonymous copy, so nothing written is ever dropped. (smaps may still call a file page
/// "Private_Dirty" while the file itself is not yet written back, e.g. a binary just linked: that
/// page lives in the page cache and dropping our mapping of it loses nothing.)
/// Run once start-up is over, and again when the process goes quiet.
enum ResidentCodeTrimmer {
    /// What a `trim()` dropped: bytes that were resident.
    struct Released: Equatable {
        /// Whole read-only mappings (code, read-only data) of the binary and its libraries.
        var readOnlyMappings = 0
        /// Pages of `constantSections` in a writable segment.
        var constantData = 0

        var total: Int { readOnlyMappings + constantData }
    }

    @discardableResult
    static func trim() -> Released {
        var released = Released()
        #if canImport(Glibc)
        guard let smaps = readFile("/proc/self/smaps") else { return released }
        for mapping in Self.cleanReadOnlyFileMappings(in: smaps) {
            guard let address = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            let length = Int(mapping.end - mapping.start)
            _ = madvise(address, length, MADV_RANDOM)
            if madvise(address, length, MADV_DONTNEED) == 0 { released.readOnlyMappings += mapping.residentBytes }
        }
        released.constantData = trimConstantDataInWritableSegments()
        #endif
        return released
    }

    /// Sections of constants that a link can place in a writable segment.
    ///
    /// The Swift compiler emits some records (protocol conformance descriptors, for one) into
    /// `.rodata` sections flagged writable, because they carry relocations; the linker then makes
    /// the whole output `.rodata` writable and puts it in the read-write segment with `.data` and
    /// `.bss`. In the static release binary that is ~37 MiB of constants (the standard library's,
    /// Foundation's and ICU's Unicode tables among them), of which start-up leaves ~2 MiB
    /// resident, and a mapping with written pages never qualifies for `trim()`'s whole-mapping
    /// drop. Their relocations are resolved by the static link: nothing writes these pages.
    static let constantSections: Set<String> = [".rodata"]

    /// Drops the resident pages of `constantSections` that are still the file's own pages, page
    /// by page: `/proc/self/pagemap` tells a page mapped from the file (bit 61) from a private
    /// copy made by a write (which is skipped, so no write is ever lost). Pages shared with a
    /// neighbouring section at either end are left alone.
    private static func trimConstantDataInWritableSegments() -> Int {
        #if canImport(Glibc)
        guard let (sections, bias) = ExecutableSections.ofThisProcess() else { return 0 }
        let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))
        guard pageSize > 0, pageSize & (pageSize - 1) == 0 else { return 0 }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { return 0 }
        defer { close(pagemap) }
        var released = 0
        for section in sections where section.isWritable && section.occupiesMemory && constantSections.contains(section.name) {
            let start = (bias &+ UInt(section.address) &+ pageSize &- 1) & ~(pageSize &- 1)
            let end = (bias &+ UInt(section.address) &+ UInt(section.size)) & ~(pageSize &- 1)
            guard end > start else { continue }
            let pages = Int((end - start) / pageSize)
            var entries = [UInt64](repeating: 0, count: pages)
            let wanted = pages * 8
            let got = entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, wanted, off_t(start / pageSize * 8)) }
            guard got == wanted else { continue }
            for run in fileBackedRuns(in: entries) {
                guard let address = UnsafeMutableRawPointer(bitPattern: start + UInt(run.lowerBound) * pageSize) else { continue }
                let length = run.count * Int(pageSize)
                if madvise(address, length, MADV_DONTNEED) == 0 { released += length }
            }
        }
        return released
        #else
        return 0
        #endif
    }

    /// The runs of pages whose pagemap entries say "present" (bit 63) and "mapped from a file"
    /// (bit 61): in a private mapping, pages never written.
    static func fileBackedRuns(in entries: [UInt64]) -> [Range<Int>] {
        let wanted: UInt64 = 1 << 63 | 1 << 61
        var runs: [Range<Int>] = []
        var runStart: Int?
        for (index, entry) in entries.enumerated() {
            if entry & wanted == wanted {
                if runStart == nil { runStart = index }
            } else if let start = runStart {
                runs.append(start..<index)
                runStart = nil
            }
        }
        if let start = runStart { runs.append(start..<entries.count) }
        return runs
    }

    struct Mapping: Equatable {
        var start: UInt
        var end: UInt
        var residentBytes: Int
    }

    /// The mappings of an smaps text that are file-backed, not writable, private, and have no
    /// anonymous pages (so dropping them loses nothing), with resident pages.
    static func cleanReadOnlyFileMappings(in smaps: [UInt8]) -> [Mapping] {
        var result: [Mapping] = []
        var current: (mapping: Mapping, eligible: Bool, dirty: Bool)?
        func finish() {
            if let current, current.eligible, !current.dirty, current.mapping.residentBytes > 0 { result.append(current.mapping) }
        }
        var lineStart = 0
        while lineStart < smaps.count {
            var lineEnd = lineStart
            while lineEnd < smaps.count, smaps[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let line = smaps[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if let dash = first.firstIndex(of: UInt8(ascii: "-")),
                let start = UInt(String(decoding: first[first.startIndex..<dash], as: UTF8.self), radix: 16),
                let end = UInt(String(decoding: first[(dash + 1)...], as: UTF8.self), radix: 16)
            {
                // A mapping header: `start-end perms offset dev inode [path]`.
                finish()
                let perms = fields.count > 1 ? Array(fields[1]) : []
                let inode = fields.count > 4 ? fields[4] : []
                let fileBacked = fields.count > 5 && !(inode.count == 1 && inode.first == UInt8(ascii: "0"))
                let eligible = perms.count == 4 && perms[0] == UInt8(ascii: "r") && perms[1] == UInt8(ascii: "-")
                    && perms[3] == UInt8(ascii: "p") && fileBacked
                current = (Mapping(start: start, end: end, residentBytes: 0), eligible, false)
                continue
            }
            guard current != nil, fields.count >= 2 else { continue }
            let value = Int(String(decoding: fields[1], as: UTF8.self)) ?? 0
            if first.elementsEqual("Rss:".utf8) {
                current!.mapping.residentBytes = value * 1024
            } else if first.elementsEqual("Anonymous:".utf8) {
                if value != 0 { current!.dirty = true }
            }
        }
        finish()
        return result
    }

    #if canImport(Glibc)
    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return data
    }
    #endif
}

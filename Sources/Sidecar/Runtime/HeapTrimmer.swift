#if canImport(Glibc)
import CMalloc
import Glibc
#endif

/// Gives freed heap memory back to the kernel once the process has gone quiet.
///
/// glibc's malloc returns memory to the kernel only from the top of a heap; pages freed anywhere
/// else stay resident until reused. After a burst of connections and requests (buffers, TLS
/// handshake state, pooled connections that came and went) about 1 MiB of free but resident pages
/// is left in the event loop's arena (measured after the mesh-hop benchmark's load; ~15% of the
/// anonymous RSS). `malloc_trim(0)` releases them (MADV_DONTNEED on the free pages).
///
/// Quiet means: the whole process used less than 1% of a CPU over the last period. Trimming then
/// costs nothing that matters (no traffic to stall on the arena lock, nothing that would fault the
/// pages straight back in), and it is done once per quiet spell. Only with glibc.
enum HeapTrimmer {
    static let period: Duration = .seconds(5)

    static func run() async {
        #if canImport(Glibc)
        var lastCPU = processCPUTime()
        var trimmedSinceBusy = false
        while !Task.isCancelled {
            do { try await Task.sleep(for: period) } catch { return }
            let cpu = processCPUTime()
            let busy = cpu - lastCPU
            lastCPU = cpu
            if busy > period / 100 {
                trimmedSinceBusy = false
            } else if !trimmedSinceBusy {
                malloc_trim(0)
                ResidentCodeTrimmer.trim()
                trimmedSinceBusy = true
            }
        }
        #endif
    }

    #if canImport(Glibc)
    private static func processCPUTime() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }
    #endif
}

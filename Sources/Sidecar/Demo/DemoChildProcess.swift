import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `sidecar run` child of the demo, started with `posix_spawn` in its own process group (so
/// a Ctrl-C at the terminal reaches only the demo, which then stops its children in order), with
/// default signal dispositions and an empty signal mask, stdin from /dev/null and stdout+stderr to
/// a log file. The child gets `SIDECAR_PARENT_PID`, so it drains by itself should the demo die
/// without stopping it (see `SidecarProcess`).
final class DemoChildProcess: Sendable {
    let name: String
    let pid: pid_t
    let logPath: String
    private let exitStatus = NIOLockedValueBox<String?>(nil)

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    private init(name: String, pid: pid_t, logPath: String) {
        self.name = name
        self.pid = pid
        self.logPath = logPath
    }

    static func spawn(name: String, executable: String, arguments: [String], logPath: String, environment: [String: String]) throws -> DemoChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        // The demo traps SIGINT/SIGTERM (ignored dispositions survive exec): give them back.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return DemoChildProcess(name: name, pid: pid, logPath: logPath)
    }

    /// Reaps the child if it has exited; nil while it runs, else how it ended.
    func exited() -> String? {
        exitStatus.withLockedValue { exitStatus in
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            guard result == pid else {
                if result < 0 && errno == ECHILD { exitStatus = "gone" }
                return exitStatus
            }
            let signal = status & 0x7f
            exitStatus = signal == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(signal)"
            return exitStatus
        }
    }

    /// Sends `signal` to the child's process group (the child and anything it started) while it runs.
    func send(_ signal: Int32) {
        guard exited() == nil else { return }
        kill(-pid, signal)
        kill(pid, signal)
    }

    /// The last `lines` lines of the child's log.
    func logTail(lines: Int = 8) -> String {
        guard let file = fopen(logPath, "r") else { return "" }
        defer { fclose(file) }
        var all: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            all.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            if all.count > lines * 4 { all.removeFirst(all.count - lines) }
        }
        return all.suffix(lines).joined()
    }
}

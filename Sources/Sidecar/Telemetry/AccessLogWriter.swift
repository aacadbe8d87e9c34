import CoreMetrics
import Dispatch
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes access-log chunks to stdout or a file from one background queue, so an event loop never
/// blocks on the log's destination. Each event loop hands over whole batches (not single lines);
/// at most `maxPendingBytes` may wait, beyond that batches are dropped and counted.
public final class AccessLogWriter: Sendable {
    private let queue = DispatchQueue(label: "sidecar.access-log")
    private let state: NIOLockedValueBox<State>
    private let maxPendingBytes: Int
    private let path: String?

    private struct State {
        var fd: Int32
        var pendingBytes = 0
        var droppedBatches = 0
    }

    /// `path` nil writes to stdout.
    /// Counts batches dropped because the writer fell behind (`sidecar_access_log_dropped_batches_total`).
    private let droppedBatchCounter: CoreMetrics.Counter?

    public init(path: String?, maxPendingBytes: Int = 8 * 1024 * 1024, droppedBatches: CoreMetrics.Counter? = nil) throws {
        self.droppedBatchCounter = droppedBatches
        self.path = path
        self.maxPendingBytes = maxPendingBytes
        let fd = try AccessLogWriter.open(path)
        state = NIOLockedValueBox(State(fd: fd))
    }

    private static func open(_ path: String?) throws -> Int32 {
        guard let path else { return STDOUT_FILENO }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw AccessLogError(message: "cannot open access log \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Reopens the file (log rotation on SIGHUP); a no-op for stdout.
    public func reopen() {
        guard let path else { return }
        queue.async { [self] in
            guard let fd = try? AccessLogWriter.open(path) else { return }
            let old = state.withLockedValue { state -> Int32 in
                let old = state.fd
                state.fd = fd
                return old
            }
            if old != STDOUT_FILENO { close(old) }
        }
    }

    var droppedBatches: Int { state.withLockedValue { $0.droppedBatches } }

    func submit(_ batch: ByteBuffer) {
        let size = batch.readableBytes
        let accepted = state.withLockedValue { state -> Bool in
            if state.pendingBytes + size > maxPendingBytes {
                state.droppedBatches += 1
                return false
            }
            state.pendingBytes += size
            return true
        }
        guard accepted else {
            droppedBatchCounter?.increment()
            return
        }
        queue.async { [self] in
            let fd = state.withLockedValue { $0.fd }
            batch.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 {
                        if written < 0, errno == EINTR { continue }
                        break
                    }
                    offset += written
                }
            }
            state.withLockedValue { $0.pendingBytes -= size }
        }
    }

    /// Waits until every submitted batch is written.
    public func flushSync() {
        queue.sync {}
    }
}

struct AccessLogError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

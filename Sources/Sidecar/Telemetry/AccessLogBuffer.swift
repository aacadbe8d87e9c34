import NIOCore

/// One event loop's access-log lines, formatted as JSON into a buffer and handed to the
/// `AccessLogWriter` every 100 ms or once 32 KiB are waiting: no lock and no syscall per request.
final class AccessLogBuffer {
    private let writer: AccessLogWriter
    private var buffer: ByteBuffer
    private let flushThreshold = 32 * 1024
    private var flushTask: RepeatedTask?

    init(writer: AccessLogWriter, eventLoop: EventLoop) {
        self.writer = writer
        self.buffer = ByteBufferAllocator().buffer(capacity: 4096)
        flushTask = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { [weak self] _ in
            self?.flush()
        }
    }

    func append(_ record: AccessLogRecord) {
        AccessLogFormatter.writeJSON(record, timestamp: WallClock.nowISO8601(), into: &buffer)
        if buffer.readableBytes >= flushThreshold { flush() }
    }

    func flush() {
        guard buffer.readableBytes > 0 else { return }
        writer.submit(buffer)
        buffer = ByteBufferAllocator().buffer(capacity: 4096)
    }

    func stop() {
        flushTask?.cancel()
        flush()
    }
}

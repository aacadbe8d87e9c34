import COpenSSL

/// Reads OpenSSL's per-thread error queue into Swift strings.
///
/// OpenSSL reports failures by pushing codes onto a thread-local queue. Every entry point
/// in the TLS layer clears the queue before calling OpenSSL (`clear()`) and drains it into
/// a message after a failure (`drain()`), so errors of one connection never leak into another
/// connection served by the same event-loop thread.
enum OpenSSLErrorQueue {
    static func clear() {
        // ERR_clear_error resets all 16 slots of the queue (hundreds of instructions, and this
        // runs before every SSL_read and SSL_write); peeking first makes the usual empty case cheap.
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// All queued errors as reason strings (`ERR_error_string_n`), oldest first; empties the queue.
    static func drain() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            buffer.withUnsafeMutableBufferPointer { ptr in
                ERR_error_string_n(code, ptr.baseAddress, ptr.count)
            }
            let full = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            messages.append(Self.reasonPart(of: full))
        }
        return messages
    }

    /// The drained queue as one line, or `fallback` when the queue was empty.
    static func message(fallback: String) -> String {
        let messages = drain()
        return messages.isEmpty ? fallback : messages.joined(separator: "; ")
    }

    /// `error:0A000086:SSL routines::certificate verify failed` → `certificate verify failed (SSL routines)`.
    private static func reasonPart(of full: String) -> String {
        let parts = full.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[0] == "error" else { return full }
        let library = parts[2]
        let reason = parts[4...].joined(separator: ":")
        return library.isEmpty ? reason : "\(reason) (\(library))"
    }
}

/// Sent down a connection's pipeline (`triggerUserOutboundEvent`) by the HTTP/1 handler once the
/// connection has been idle for a while (a downstream one for an idle-check period, a pooled
/// upstream one for a pool-sweep period): handlers let go of the buffers they keep for the next
/// message (the TLS handler's ciphertext and plaintext storage). Busy connections reuse those
/// buffers; idle ones would otherwise hold them as long as they stay open, up to ~6 KiB each.
/// Without an idle timeout (`timeouts.idle: 0`) there is no idle check or pool sweep, so nothing
/// sends it; HTTP/2 connections keep no such buffers in the HTTP layer and are not sent it.
struct ConnectionIdleEvent: Sendable {}

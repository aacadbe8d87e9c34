import COpenSSL

/// Owner of one `SSL_SESSION*` (a client's resumable session / TLS 1.3 ticket).
///
/// Lifetime: holds the reference OpenSSL handed to the new-session callback (which returned 1 to
/// say "kept"), dropped in `deinit` with `SSL_SESSION_free`. `SSL_set_session` takes its own
/// reference, so a connection using the session does not depend on this object.
final class TLSSession: @unchecked Sendable {
    // @unchecked: the session is not modified after being cached; only read by SSL_set_session.
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        SSL_SESSION_free(pointer)
    }

    /// TLS 1.3 tickets should be used once (RFC 8446 C.4); TLS 1.2 sessions may be reused.
    var isSingleUse: Bool {
        SSL_SESSION_get_protocol_version(pointer) >= TLS1_3_VERSION
    }
}

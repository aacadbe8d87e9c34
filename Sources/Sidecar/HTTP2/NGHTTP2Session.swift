import CNGHTTP2
import NIOCore
import NIOHTTP1

/// One HTTP/2 connection's protocol state, in libnghttp2 (server or client role).
///
/// Owns the `nghttp2_session*`: created in `init`, freed in `deinit`, never shared. nghttp2 holds
/// `Unmanaged.passUnretained(self)` as its `user_data`; that pointer is valid because nghttp2 only
/// calls back from inside this object's own methods (`receive`, `drainOutput`, submits), during
/// which `self` is alive. Outgoing bodies (`NGHTTP2OutboundBody`) are retained in `bodies` from the
/// submit that hands nghttp2 a data provider pointing to them until nghttp2 reports the stream
/// closed, so the provider never dangles.
///
/// Inbound bytes are fed with `receive`; outbound frames are pulled with `drainOutput`.
/// Automatic WINDOW_UPDATE is off: the owner calls `consume` once the other side of the proxy has
/// taken a stream's data, so a slow reader holds back the sender (bounded memory).
final class NGHTTP2Session {
    enum Role { case server, client }

    /// Local settings announced to the peer.
    struct Settings {
        var maxConcurrentStreams = HTTP2Limits.maxConcurrentStreams
        var initialWindowSize = HTTP2Limits.initialStreamWindow
        var connectionWindowSize = HTTP2Limits.connectionWindow
        var maxHeaderListSize = 64 * 1024
        var maxHeaderCount = 100
    }

    struct SessionError: Error, CustomStringConvertible {
        let code: Int
        var description: String { String(cString: nghttp2_strerror(Int32(code))) }
    }

    let role: Role
    private var session: OpaquePointer?
    /// The session's owner (the handler or connection holding it). Not weak: a weak reference would
    /// give the owner a side table and slow every retain and release of it. Unowned(unsafe): the
    /// owner holds this session, and nghttp2 calls back only from inside the session's methods,
    /// which the owner calls, so the owner is alive whenever the delegate is used.
    unowned(unsafe) var delegate: NGHTTP2SessionDelegate?
    private let maxHeaderBytes: Int
    private let maxHeaderCount: Int
    /// The header block being received and its stream. HTTP/2 sends a block's frames back to
    /// back (HEADERS, then CONTINUATION only), so there is at most one at a time; a block nghttp2
    /// gave up on is replaced by the next one.
    private var block = HTTP2HeaderBlock()
    private var blockStreamID: Int32 = 0
    /// Outgoing bodies nghttp2 may still read, by stream (see the type's comment).
    private var bodies = HTTP2StreamTable<NGHTTP2OutboundBody>()
    /// True while nghttp2 runs (inside `receive` or `drainOutput`): the owner defers draining.
    private(set) var isBusy = false

    init(role: Role, settings: Settings) throws {
        self.role = role
        self.maxHeaderBytes = settings.maxHeaderListSize
        self.maxHeaderCount = settings.maxHeaderCount

        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw SessionError(code: Int(NGHTTP2_ERR_NOMEM.rawValue)) }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, ngOnBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, ngOnHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, ngOnFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, ngOnDataChunkRecv)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, ngOnStreamClose)
        nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, ngOnFrameNotSend)

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else { throw SessionError(code: Int(NGHTTP2_ERR_NOMEM.rawValue)) }
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_max_outbound_ack(option, HTTP2Limits.maxOutboundAcks)
        nghttp2_option_set_max_settings(option, HTTP2Limits.maxSettingsEntries)
        nghttp2_option_set_max_continuations(option, HTTP2Limits.maxContinuations)
        if role == .client {
            nghttp2_option_set_peer_max_concurrent_streams(option, UInt32(HTTP2Limits.assumedPeerMaxConcurrentStreams))
        }

        let userData = Unmanaged.passUnretained(self).toOpaque()
        var created: OpaquePointer?
        let rc: Int32
        switch role {
        case .server: rc = nghttp2_session_server_new2(&created, callbacks, userData, option)
        case .client: rc = nghttp2_session_client_new2(&created, callbacks, userData, option)
        }
        guard rc == 0, let created else { throw SessionError(code: Int(rc)) }
        session = created

        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: settings.initialWindowSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(clamping: settings.maxHeaderListSize)),
        ]
        if role == .client {
            entries.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        let settingsRC = nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        guard settingsRC == 0 else { throw SessionError(code: Int(settingsRC)) }
        if settings.connectionWindowSize > 65535 {
            nghttp2_session_set_local_window_size(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindowSize)
        }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: - Feeding and draining

    /// Feeds received bytes. Throws on a fatal protocol error (the session then has a GOAWAY to
    /// send, if any: drain it, then close).
    func receive(_ buffer: ByteBuffer) throws {
        guard let session else { return }
        isBusy = true
        defer { isBusy = false }
        let rc = buffer.withUnsafeReadableBytes { raw -> Int in
            guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
            return nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        if rc < 0 { throw SessionError(code: rc) }
    }

    /// Hands nghttp2's pending output to `write` in buffers of about `HTTP2Limits.maxWriteChunk`
    /// bytes while `canWrite()` holds (the channel's writability, so output waits in nghttp2
    /// rather than piling up in the channel). Says whether anything was written and whether
    /// nghttp2 failed (the connection must then close).
    func writeOutput(
        allocator: ByteBufferAllocator,
        canWrite: () -> Bool,
        write: (ByteBuffer) -> Void
    ) -> (wrote: Bool, failed: Bool) {
        var wrote = false
        while canWrite() {
            var buffer = allocator.buffer(capacity: 0)
            var failed = false
            do {
                try drainOutput(into: &buffer, limit: HTTP2Limits.maxWriteChunk)
            } catch {
                failed = true
            }
            if buffer.readableBytes > 0 {
                write(buffer)
                wrote = true
            }
            if failed { return (wrote, true) }
            if buffer.readableBytes == 0 { break }
        }
        return (wrote, false)
    }

    /// Appends pending outbound frames to `buffer`, up to about `limit` bytes. Throws on a fatal error.
    func drainOutput(into buffer: inout ByteBuffer, limit: Int) throws {
        guard let session else { return }
        isBusy = true
        defer { isBusy = false }
        while buffer.readableBytes < limit {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 { throw SessionError(code: count) }
            guard count > 0, let data else { break }
            buffer.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
        }
    }

    /// Whether nghttp2 still has something to read or write; both false: the connection is done.
    var wantsReadOrWrite: Bool {
        guard let session else { return false }
        return nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    /// Bytes in the HPACK table of the fields this session sent (diagnostics and tests).
    var sentHeaderTableSize: Int {
        guard let session else { return 0 }
        return nghttp2_session_get_hd_deflate_dynamic_table_size(session)
    }

    var wantsWrite: Bool {
        guard let session else { return false }
        return nghttp2_session_want_write(session) != 0
    }

    // MARK: - Submitting

    /// Submits a request (client). Returns the new stream id, or nil when nghttp2 refused it
    /// (e.g. stream ids exhausted or the session is going away).
    func submitRequest(_ headers: HTTP2FieldList, body: NGHTTP2OutboundBody?) -> Int32? {
        guard let session else { return nil }
        let streamID = withNameValues(headers) { nva, count -> Int32 in
            if let body {
                var provider = dataProvider(for: body)
                return nghttp2_submit_request(session, nil, nva, count, &provider, nil)
            }
            return nghttp2_submit_request(session, nil, nva, count, nil, nil)
        }
        guard streamID > 0 else { return nil }
        if let body { bodies[streamID] = body }
        return streamID
    }

    /// Submits a response head (server); with `body`, DATA frames follow from it, else the HEADERS
    /// frame ends the stream.
    @discardableResult
    func submitResponse(streamID: Int32, headers: HTTP2FieldList, body: NGHTTP2OutboundBody?) -> Bool {
        guard let session else { return false }
        let rc = withNameValues(headers) { nva, count -> Int32 in
            if let body {
                var provider = dataProvider(for: body)
                return nghttp2_submit_response(session, streamID, nva, count, &provider)
            }
            return nghttp2_submit_response(session, streamID, nva, count, nil)
        }
        guard rc == 0 else { return false }
        if let body { bodies[streamID] = body }
        return true
    }

    /// Tells nghttp2 that a deferred stream's body (the one submitted with the stream) has data,
    /// or its end, again. Nothing to do, and no lookup, while nghttp2 has not been told "deferred";
    /// for a stream nghttp2 has closed meanwhile, the resume is refused and changes nothing.
    func resumeData(streamID: Int32, body: NGHTTP2OutboundBody) {
        guard let session, body.deferred else { return }
        body.deferred = false
        nghttp2_session_resume_data(session, streamID)
    }

    func resetStream(_ streamID: Int32, errorCode: HTTP2ErrorCode) {
        guard let session else { return }
        bodies[streamID]?.discard()
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode.rawValue)
    }

    /// `bytes` of a stream's received DATA were taken by the other side: let the peer send more.
    func consume(streamID: Int32, bytes: Int) {
        guard let session, bytes > 0 else { return }
        if nghttp2_session_consume(session, streamID, bytes) != 0 {
            nghttp2_session_consume_connection(session, bytes)
        }
    }

    /// Gives back connection window for data that will never be consumed per stream (closed stream).
    func consumeConnection(bytes: Int) {
        guard let session, bytes > 0 else { return }
        nghttp2_session_consume_connection(session, bytes)
    }

    /// The graceful first GOAWAY of a drain (last-stream-id 2^31-1, server only).
    func submitShutdownNotice() {
        guard let session else { return }
        nghttp2_submit_shutdown_notice(session)
    }

    /// A GOAWAY naming the last stream this side processed.
    func submitGoAway(errorCode: HTTP2ErrorCode) {
        guard let session else { return }
        let last = nghttp2_session_get_last_proc_stream_id(session)
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode.rawValue, nil, 0)
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (nghttp2's assumption until they arrive).
    var remoteMaxConcurrentStreams: Int {
        guard let session else { return 0 }
        return Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
    }

    // MARK: - Internals for the callbacks

    private func dataProvider(for body: NGHTTP2OutboundBody) -> nghttp2_data_provider {
        nghttp2_data_provider(
            source: nghttp2_data_source(ptr: Unmanaged.passUnretained(body).toOpaque()),
            read_callback: ngReadBody
        )
    }

    /// nghttp2's name-value array for `headers`, pointing into the list's bytes, for the length
    /// of `body` (the submit call, which copies what nghttp2 keeps). The array lives on the stack
    /// for lists of usual sizes.
    private func withNameValues<R>(_ headers: HTTP2FieldList, _ body: (UnsafePointer<nghttp2_nv>?, Int) -> R) -> R {
        let entries = headers.entries
        return headers.bytes.withUnsafeReadableBytes { bytes -> R in
            // Never a null base: an empty list still needs a valid pointer for zero-length fields.
            var empty: UInt8 = 0
            return withUnsafeMutablePointer(to: &empty) { fallback -> R in
                let base = bytes.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UInt8.self)) } ?? fallback
                return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(entries.count, 1)) { nva -> R in
                    for (index, entry) in entries.enumerated() {
                        (nva.baseAddress! + index).initialize(to: nghttp2_nv(
                            name: base + Int(entry.nameStart), value: base + Int(entry.valueStart),
                            namelen: Int(entry.nameLength), valuelen: Int(entry.valueLength),
                            flags: UInt8(entry.isUniquePerMessage ? NGHTTP2_NV_FLAG_NO_INDEX.rawValue : NGHTTP2_NV_FLAG_NONE.rawValue)
                        ))
                    }
                    return body(UnsafePointer(nva.baseAddress), entries.count)
                }
            }
        }
    }

    fileprivate func beginHeaders(streamID: Int32) {
        block = HTTP2HeaderBlock()
        blockStreamID = streamID
    }

    fileprivate func header(streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard streamID == blockStreamID else { return }
        block.append(name: name, value: value, maxBytes: maxHeaderBytes, maxCount: maxHeaderCount)
    }

    fileprivate func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
        let hd = frame.pointee.hd
        let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch hd.type {
        case UInt8(NGHTTP2_HEADERS.rawValue):
            guard hd.stream_id == blockStreamID, blockStreamID != 0 else { return }
            let received = block
            block = HTTP2HeaderBlock()
            blockStreamID = 0
            delegate?.sessionReceivedHeaders(received, streamID: hd.stream_id, endStream: endStream)
        case UInt8(NGHTTP2_DATA.rawValue):
            if endStream {
                delegate?.sessionReceivedEndOfStream(streamID: hd.stream_id)
            } else if hd.length == 0 {
                delegate?.sessionReceivedEmptyData(streamID: hd.stream_id)
            }
        case UInt8(NGHTTP2_RST_STREAM.rawValue):
            delegate?.sessionReceivedReset(streamID: hd.stream_id, errorCode: frame.pointee.rst_stream.error_code)
        case UInt8(NGHTTP2_GOAWAY.rawValue):
            delegate?.sessionReceivedGoAway(lastStreamID: frame.pointee.goaway.last_stream_id, errorCode: frame.pointee.goaway.error_code)
        case UInt8(NGHTTP2_SETTINGS.rawValue):
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { delegate?.sessionReceivedSettings() }
        default:
            break
        }
    }

    fileprivate func dataChunk(streamID: Int32, bytes: UnsafeRawBufferPointer) {
        delegate?.sessionReceivedData(bytes, streamID: streamID)
    }

    fileprivate func streamClosed(streamID: Int32, errorCode: UInt32) {
        if streamID == blockStreamID {
            block = HTTP2HeaderBlock()
            blockStreamID = 0
        }
        bodies.removeValue(forKey: streamID)
        delegate?.sessionStreamClosed(streamID: streamID, errorCode: errorCode)
    }

    fileprivate func headersNotSent(streamID: Int32) {
        delegate?.sessionHeadersNotSent(streamID: streamID)
    }

    /// The data provider: copies queued body bytes; defers when none are queued yet; at the end,
    /// sets EOF, and sends trailers in their own HEADERS frame when there are any.
    fileprivate func readBody(
        _ body: NGHTTP2OutboundBody, streamID: Int32, into buffer: UnsafeMutableRawBufferPointer, flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        let count = body.read(into: buffer)
        guard body.queuedBytes == 0 else { return count }
        if body.ended {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers = body.trailers, let session {
                var fields = HTTP2FieldList()
                HTTP2HeaderTranslation.trailerFields(from: trailers, into: &fields)
                if !fields.isEmpty {
                    let rc = withNameValues(fields) { nva, n in nghttp2_submit_trailer(session, streamID, nva, n) }
                    if rc == 0 { flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue }
                }
            }
            return count
        }
        if count > 0 { return count }
        body.deferred = true
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }

    /// Runs `body` with the session a callback's `user_data` points to, without retaining it:
    /// nghttp2 calls back only from inside this session's own methods, whose caller holds it
    /// (see the type's comment), so a retain and release per callback would buy nothing.
    fileprivate static func with<R>(_ userData: UnsafeMutableRawPointer?, otherwise: R, _ body: (NGHTTP2Session) -> R) -> R {
        guard let userData else { return otherwise }
        return Unmanaged<NGHTTP2Session>.fromOpaque(userData)._withUnsafeGuaranteedRef(body)
    }
}

// MARK: - C callbacks (non-capturing; state travels through `user_data`)

private let ngOnBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    guard let frame else { return 0 }
    NGHTTP2Session.with(userData, otherwise: ()) { $0.beginHeaders(streamID: frame.pointee.hd.stream_id) }
    return 0
}

private let ngOnHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    guard let frame, let name else { return 0 }
    // The bytes are nghttp2's until the callback returns: the block copies them.
    NGHTTP2Session.with(userData, otherwise: ()) {
        $0.header(
            streamID: frame.pointee.hd.stream_id,
            name: UnsafeRawBufferPointer(start: name, count: nameLength),
            value: UnsafeRawBufferPointer(start: value, count: value == nil ? 0 : valueLength))
    }
    return 0
}

private let ngOnFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame else { return 0 }
    NGHTTP2Session.with(userData, otherwise: ()) { $0.frameReceived(frame) }
    return 0
}

private let ngOnDataChunkRecv: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    guard let data else { return 0 }
    NGHTTP2Session.with(userData, otherwise: ()) { $0.dataChunk(streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: length)) }
    return 0
}

private let ngOnStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    NGHTTP2Session.with(userData, otherwise: ()) { $0.streamClosed(streamID: streamID, errorCode: errorCode) }
    return 0
}

private let ngOnFrameNotSend: nghttp2_on_frame_not_send_callback = { _, frame, _, userData in
    guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
    NGHTTP2Session.with(userData, otherwise: ()) { $0.headersNotSent(streamID: frame.pointee.hd.stream_id) }
    return 0
}

private let ngReadBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, source, userData in
    guard let buffer, let flags, let pointer = source?.pointee.ptr else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
    return NGHTTP2Session.with(userData, otherwise: Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)) { session in
        // The body is retained in the session's `bodies` while nghttp2 may read it.
        Unmanaged<NGHTTP2OutboundBody>.fromOpaque(pointer)._withUnsafeGuaranteedRef { body in
            session.readBody(body, streamID: streamID, into: UnsafeMutableRawBufferPointer(start: buffer, count: length), flags: flags)
        }
    }
}

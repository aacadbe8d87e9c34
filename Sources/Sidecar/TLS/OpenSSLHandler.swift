import COpenSSL
import NIOCore

/// TLS on a NIO channel with OpenSSL: ciphertext `ByteBuffer`s on the network side, plaintext
/// `ByteBuffer`s on the application side. One handler per connection, made from a shared `TLSContext`.
///
/// - The client starts the handshake when the channel becomes active (or when added to an active one).
/// - Application writes are buffered until the handshake completes, then encrypted and flushed in order.
/// - After the handshake and the SPIFFE identity checks, a `TLSHandshakeCompleted` user event is fired.
/// - Closing sends `close_notify`, then closes once it is written. `close(mode: .output)` sends
///   `close_notify` and half-closes. A `close_notify` from the peer becomes `ChannelEvent.inputClosed`
///   when the channel allows remote half-closure, else the channel is closed.
/// - Any TLS failure is fired as a `TLSError` (with OpenSSL's reason strings) and the channel is closed.
/// - Reads: during the handshake the handler reads by itself; afterwards it reads only when the
///   application asked (`read()`), asking again when a read produced no plaintext for it.
public final class OpenSSLHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case handshaking
        case active
        /// close_notify sent by us, closing the channel.
        case closing
        case closed
    }

    private struct PendingWrite {
        var data: ByteBuffer
        var promise: EventLoopPromise<Void>?
    }

    private let tlsContext: TLSContext
    private let serverName: String?
    private let expectedPeerIdentities: [String]
    private let sessionCacheKeyOverride: String?
    private let closeTimeout: TimeAmount

    private var connection: TLSConnection?
    /// Room for one decrypted TLS record (at most 16 KiB of plaintext).
    private static let plaintextBufferSize = 16 * 1024
    /// A plaintext buffer is kept between reads when its storage is at most this big.
    private static let keptPlaintextCapacity = 2 * 1024
    /// The storage of the last small plaintext buffer, for the next read: what a small response
    /// needs (an allocation and a free less per read). Reused only once nothing downstream holds
    /// it any more (`clear()` allocates afresh otherwise); never larger than
    /// `keptPlaintextCapacity`, so an idle connection keeps at most that.
    private var keptPlaintext: ByteBuffer?
    private var state: State = .idle
    private var pendingWrites = CircularBuffer<PendingWrite>()
    /// How many of `pendingWrites` (from the front) have been flushed by the application.
    private var flushedWriteCount = 0
    private var applicationWantsRead = false
    private var sentCloseNotify = false
    private var receivedCloseNotify = false
    private var inputClosedFired = false
    /// close_notify seen during a read; acted upon in channelReadComplete, after the plaintext of
    /// that read (and the application's reaction to it) went through.
    private var closeNotifyPending = false
    private var outputClosed = false
    /// close(mode: .output) asked for during the handshake, performed after it.
    private var deferredOutputClose: (promise: EventLoopPromise<Void>?, requested: Bool) = (nil, false)

    /// What the handshake negotiated, once it completed.
    public private(set) var handshakeResult: TLSHandshakeCompleted?

    /// - Parameters:
    ///   - context: a server or client `TLSContext`; the role decides the handler's mode.
    ///   - serverName: client only: SNI to send (not sent for IP literals); also part of the session cache key.
    ///   - expectedPeerIdentities: client only: when non-empty, the server's SPIFFE ID must be one of these.
    ///   - sessionCacheKey: client only: key for session resumption; default `serverName` plus the
    ///     remote address. No resumption when neither is known.
    ///   - closeTimeout: how long a close waits for `close_notify` (or a fatal alert) to be written
    ///     before closing anyway (a peer that stopped reading must not keep the socket open).
    public init(
        context: TLSContext, serverName: String? = nil, expectedPeerIdentities: [String] = [],
        sessionCacheKey: String? = nil, closeTimeout: TimeAmount = .seconds(5)
    ) {
        self.closeTimeout = closeTimeout
        self.tlsContext = context
        self.serverName = serverName
        self.expectedPeerIdentities = expectedPeerIdentities
        self.sessionCacheKeyOverride = sessionCacheKey
    }

    /// Whether the first bytes of a connection look like a TLS ClientHello record
    /// (`0x16 0x03 0x0N`): true/false, or nil when fewer than 3 bytes have arrived.
    public static func isTLSClientHello(_ firstBytes: ByteBuffer) -> Bool? {
        let view = firstBytes.readableBytesView
        guard let first = view.first else { return nil }
        guard first == 0x16 else { return false }
        guard view.count >= 2 else { return nil }
        guard view[view.startIndex + 1] == 0x03 else { return false }
        guard view.count >= 3 else { return nil }
        return view[view.startIndex + 2] <= 0x04
    }

    // MARK: lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        do {
            connection = try TLSConnection(
                context: tlsContext, expectedPeerIdentities: expectedPeerIdentities,
                allocator: context.channel.allocator)
        } catch {
            state = .closed
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        if context.channel.isActive {
            startHandshake(context: context)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failPendingWrites(ChannelError.ioOnClosedChannel)
        state = .closed
        connection = nil
        keptPlaintext = nil
    }

    /// `ConnectionIdleEvent`: the buffers kept for the next record go (and the event stops here);
    /// any other event goes on.
    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is ConnectionIdleEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        keptPlaintext = nil
        connection?.bio.releaseIdleStorage()
        promise?.succeed(())
    }

    public func channelActive(context: ChannelHandlerContext) {
        startHandshake(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let wasHandshaking = state == .handshaking || state == .idle
        state = .closed
        failPendingWrites(ChannelError.ioOnClosedChannel)
        if wasHandshaking && connection != nil {
            context.fireErrorCaught(
                TLSError(kind: .closedDuringHandshake, message: "the peer closed the connection during the TLS handshake"))
        }
        context.fireChannelInactive()
    }

    private func startHandshake(context: ChannelHandlerContext) {
        guard state == .idle, let connection else { return }
        state = .handshaking
        if tlsContext.role == .client {
            let key = sessionCacheKeyOverride ?? defaultSessionKey(context: context)
            do {
                try connection.prepareClient(serverName: serverName, sessionCacheKey: key)
            } catch {
                fail(context: context, error: error)
                return
            }
        }
        doHandshake(context: context)
    }

    private func defaultSessionKey(context: ChannelHandlerContext) -> String? {
        let address = context.channel.remoteAddress?.description
        if serverName == nil && address == nil { return nil }
        return "\(serverName ?? "")|\(address ?? "")"
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let connection, state == .handshaking || state == .active || state == .closing else { return }
        connection.bio.receiveFromNetwork(buffer)
        if state == .handshaking {
            doHandshake(context: context)
        } else if state == .active {
            readPlaintext(context: context)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        writeCiphertext(context: context, flush: true)
        // The application asked for data but this read carried only handshake/control records:
        // ask the channel for more on its behalf.
        if applicationWantsRead && (state == .active || state == .handshaking) && !receivedCloseNotify {
            context.read()
        }
        context.fireChannelReadComplete()
        if closeNotifyPending {
            closeNotifyPending = false
            peerSentCloseNotify(context: context)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            switch state {
            case .idle, .handshaking:
                fail(
                    context: context,
                    error: TLSError(kind: .closedDuringHandshake, message: "the peer closed its side during the TLS handshake"))
            case .active:
                // TCP EOF. If close_notify came first we already told the application.
                if !inputClosedFired {
                    inputClosedFired = true
                    context.fireUserInboundEventTriggered(event)
                }
            case .closing, .closed:
                break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: outbound

    public func read(context: ChannelHandlerContext) {
        applicationWantsRead = true
        context.read()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state != .closed && state != .closing && !outputClosed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        pendingWrites.append(PendingWrite(data: unwrapOutboundIn(data), promise: promise))
    }

    public func flush(context: ChannelHandlerContext) {
        flushedWriteCount = pendingWrites.count
        if state == .active {
            encryptFlushedWrites(context: context)
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .input:
            context.close(mode: .input, promise: promise)
        case .output:
            switch state {
            case .active:
                closeOutput(context: context, promise: promise)
            case .idle, .handshaking:
                deferredOutputClose = (promise, true)
            case .closing, .closed:
                promise?.fail(ChannelError.alreadyClosed)
            }
        case .all:
            switch state {
            case .active:
                state = .closing
                failPendingWrites(ChannelError.ioOnClosedChannel, unflushedOnly: true)
                encryptFlushedWrites(context: context)
                sendCloseNotify()
                closeAfterWritingCiphertext(context: context, promise: promise)
            case .idle, .handshaking:
                state = .closed
                failPendingWrites(ChannelError.ioOnClosedChannel)
                context.close(mode: .all, promise: promise)
            case .closing, .closed:
                context.close(mode: .all, promise: promise)
            }
        }
    }

    // MARK: TLS machinery

    private func doHandshake(context: ChannelHandlerContext) {
        guard let connection, state == .handshaking else { return }
        OpenSSLErrorQueue.clear()
        let rc = SSL_do_handshake(connection.ssl)
        if rc == 1 {
            handshakeDidComplete(context: context)
            return
        }
        let sslError = SSL_get_error(connection.ssl, rc)
        switch sslError {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            writeCiphertext(context: context, flush: true)
            // The handshake needs the peer's bytes whether or not the application asked to read.
            context.read()
        default:
            fail(context: context, error: connection.error(kind: .handshakeFailed, operation: "handshake", sslError: sslError))
        }
    }

    private func handshakeDidComplete(context: ChannelHandlerContext) {
        guard let connection else { return }
        let peer: SPIFFEID?
        switch connection.peerIdentityAfterHandshake() {
        case .success(let id):
            peer = id
        case .failure(let error):
            fail(context: context, error: error)
            return
        }
        state = .active
        writeCiphertext(context: context, flush: true)  // e.g. the server's session tickets
        let summary = connection.handshakeSummary(peerIdentity: peer)
        handshakeResult = summary
        context.fireUserInboundEventTriggered(summary)
        guard state == .active else { return }  // the event's receiver may have closed us
        encryptFlushedWrites(context: context)
        if deferredOutputClose.requested, state == .active {
            let promise = deferredOutputClose.promise
            deferredOutputClose = (nil, false)
            closeOutput(context: context, promise: promise)
        }
        // Application data may have arrived together with the last handshake flight.
        if state == .active && connection.bio.inboundReadableBytes > 0 {
            readPlaintext(context: context)
        }
    }

    /// Decrypts everything OpenSSL can give now (SSL_read until WANT_READ), passing it on.
    private func readPlaintext(context: ChannelHandlerContext) {
        guard let connection else { return }
        var readAny = false
        // Reused across the records of this read while nothing downstream kept it (`clear()`
        // keeps uniquely referenced storage); kept between reads when small (`keptPlaintext`).
        var spare = keptPlaintext
        keptPlaintext = nil
        defer {
            if let spare, spare.capacity <= Self.keptPlaintextCapacity { keptPlaintext = spare }
        }
        while state == .active && !receivedCloseNotify {
            // After a record was read, OpenSSL can only give more when ciphertext is left in the
            // BIO or it holds decrypted or unprocessed bytes: otherwise another SSL_read would
            // only say WANT_READ (and cost a buffer and an error-queue clear).
            if readAny, connection.bio.inboundReadableBytes == 0, SSL_pending(connection.ssl) == 0,
                SSL_has_pending(connection.ssl) == 0
            {
                // Reading may have produced a reply (e.g. to a KeyUpdate).
                if connection.bio.outboundReadableBytes > 0 { writeCiphertext(context: context, flush: true) }
                return
            }
            // Decrypted bytes never outnumber the ciphertext waiting plus what OpenSSL holds: a
            // small response gets a small buffer (a cheap allocation), a large one up to a record.
            // (A record OpenSSL has partly read already gets a whole record's room.)
            let room = SSL_has_pending(connection.ssl) == 1
                ? Self.plaintextBufferSize
                : min(Self.plaintextBufferSize, max(256, connection.bio.inboundReadableBytes + Int(SSL_pending(connection.ssl)) + 64))
            var buffer = spare ?? connection.bio.allocator.buffer(capacity: room)
            spare = nil
            buffer.clear(minimumCapacity: room)  // one allocation at most, of the right size
            var rc: Int32 = 0
            OpenSSLErrorQueue.clear()
            buffer.writeDirectly(minimumWritableBytes: room) { target in
                rc = SSL_read(connection.ssl, target.baseAddress, Int32(min(target.count, Int(Int32.max))))
                return rc > 0 ? Int(rc) : 0
            }
            if rc > 0 {
                readAny = true
                applicationWantsRead = false
                context.fireChannelRead(wrapInboundOut(buffer))
                spare = buffer
                continue
            }
            spare = buffer  // nothing was read into it
            let sslError = SSL_get_error(connection.ssl, rc)
            switch sslError {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                writeCiphertext(context: context, flush: true)  // e.g. a KeyUpdate reply
                return
            case SSL_ERROR_ZERO_RETURN:
                receivedCloseNotify = true
                closeNotifyPending = true
                return
            default:
                fail(context: context, error: connection.error(kind: .protocolError, operation: "read", sslError: sslError))
                return
            }
        }
    }

    private func peerSentCloseNotify(context: ChannelHandlerContext) {
        guard state == .active else { return }
        let allowHalfClosure = (try? context.channel.syncOptions?.getOption(.allowRemoteHalfClosure)) ?? false
        if allowHalfClosure && !outputClosed {
            if !inputClosedFired {
                inputClosedFired = true
                context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            }
        } else {
            close(context: context, mode: .all, promise: nil)
        }
    }

    /// Encrypts the flushed part of `pendingWrites` in order and writes the ciphertext; the
    /// writes' promises complete when that ciphertext has been written.
    private func encryptFlushedWrites(context: ChannelHandlerContext) {
        guard let connection, state == .active || state == .closing, flushedWriteCount > 0 else { return }
        var promises: [EventLoopPromise<Void>] = []
        while flushedWriteCount > 0, let write = pendingWrites.popFirst() {
            flushedWriteCount -= 1
            if let promise = write.promise { promises.append(promise) }
            guard write.data.readableBytes > 0 else { continue }
            OpenSSLErrorQueue.clear()
            let rc = write.data.withUnsafeReadableBytes { bytes in
                SSL_write(connection.ssl, bytes.baseAddress, Int32(bytes.count))
            }
            if rc <= 0 {
                let sslError = SSL_get_error(connection.ssl, rc)
                let error = connection.error(kind: .protocolError, operation: "write", sslError: sslError)
                for promise in promises { promise.fail(error) }
                fail(context: context, error: error)
                return
            }
        }
        guard let ciphertext = connection.bio.takeOutbound() else {
            for promise in promises { promise.succeed() }
            return
        }
        let writePromise: EventLoopPromise<Void>?
        switch promises.count {
        case 0: writePromise = nil
        case 1: writePromise = promises[0]
        default:
            let combined = context.eventLoop.makePromise(of: Void.self)
            let waiting = promises
            combined.futureResult.whenComplete { result in
                for promise in waiting { promise.completeWith(result) }
            }
            writePromise = combined
        }
        context.writeAndFlush(wrapOutboundOut(ciphertext), promise: writePromise)
    }

    private func writeCiphertext(context: ChannelHandlerContext, flush: Bool) {
        guard let ciphertext = connection?.bio.takeOutbound() else { return }
        if flush {
            context.writeAndFlush(wrapOutboundOut(ciphertext), promise: nil)
        } else {
            context.write(wrapOutboundOut(ciphertext), promise: nil)
        }
    }

    private func sendCloseNotify() {
        guard let connection, !sentCloseNotify else { return }
        sentCloseNotify = true
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(connection.ssl)  // 0: close_notify queued, the peer's not yet seen: fine
        OpenSSLErrorQueue.clear()
    }

    private func closeOutput(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        failPendingWrites(ChannelError.outputClosed, unflushedOnly: true)
        encryptFlushedWrites(context: context)
        sendCloseNotify()
        outputClosed = true
        writeCiphertext(context: context, flush: true)
        context.close(mode: .output, promise: promise)
    }

    /// Writes whatever ciphertext is pending (close_notify or an alert), then closes the channel
    /// once that write has completed.
    private func closeAfterWritingCiphertext(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let ciphertext = connection?.bio.takeOutbound() else {
            context.close(mode: .all, promise: promise)
            return
        }
        // Whichever comes first, the write completing or the timeout, closes; the other does nothing.
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let closed = NIOLoopBoundBox(false, eventLoop: context.eventLoop)
        let timeout = context.eventLoop.scheduleTask(in: closeTimeout) {
            guard !closed.value else { return }
            closed.value = true
            boundContext.value.close(mode: .all, promise: promise)
        }
        context.writeAndFlush(wrapOutboundOut(ciphertext)).whenComplete { _ in
            timeout.cancel()
            guard !closed.value else { return }
            closed.value = true
            boundContext.value.close(mode: .all, promise: promise)
        }
    }

    /// Fires `error`, sends any pending alert and closes. Only the first failure is reported.
    private func fail(context: ChannelHandlerContext, error: Error) {
        guard state != .closed else { return }
        state = .closed
        failPendingWrites(error)
        if let promise = deferredOutputClose.promise {
            promise.fail(error)
            deferredOutputClose = (nil, false)
        }
        context.fireErrorCaught(error)
        closeAfterWritingCiphertext(context: context, promise: nil)
    }

    private func failPendingWrites(_ error: Error, unflushedOnly: Bool = false) {
        if unflushedOnly {
            while pendingWrites.count > flushedWriteCount, let write = pendingWrites.popLast() {
                write.promise?.fail(error)
            }
            return
        }
        let writes = pendingWrites
        pendingWrites.removeAll()
        flushedWriteCount = 0
        for write in writes { write.promise?.fail(error) }
    }
}

@available(*, unavailable)
extension OpenSSLHandler: Sendable {}

import COpenSSL
import NIOCore

// The C entry points of the BIO method. They are plain global functions (no captured context),
// so they convert to C function pointers; the Swift object travels through BIO_get_data.

private func byteBufferBIOWrite(_ bio: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int32) -> Int32 {
    guard let bio, let data, let owner = ByteBufferBIO.owner(of: bio) else { return -1 }
    sidecar_BIO_clear_retry_flags(bio)
    guard length > 0 else { return 0 }
    owner.appendOutbound(UnsafeRawBufferPointer(start: data, count: Int(length)))
    return length
}

private func byteBufferBIORead(_ bio: OpaquePointer?, _ data: UnsafeMutablePointer<CChar>?, _ length: Int32) -> Int32 {
    guard let bio, let data, let owner = ByteBufferBIO.owner(of: bio) else { return -1 }
    sidecar_BIO_clear_retry_flags(bio)
    guard length > 0 else { return 0 }
    let copied = owner.copyInbound(into: UnsafeMutableRawBufferPointer(start: data, count: Int(length)))
    if copied == 0 {
        // No ciphertext yet: tell OpenSSL to come back later (SSL_ERROR_WANT_READ), never EOF.
        sidecar_BIO_set_retry_read(bio)
        return -1
    }
    return Int32(copied)
}

private func byteBufferBIOPuts(_ bio: OpaquePointer?, _ string: UnsafePointer<CChar>?) -> Int32 {
    guard let string else { return -1 }
    return byteBufferBIOWrite(bio, string, Int32(strlen(string)))
}

private func byteBufferBIOCtrl(_ bio: OpaquePointer?, _ command: Int32, _ larg: Int, _ parg: UnsafeMutableRawPointer?) -> Int {
    guard let bio else { return 0 }
    switch command {
    case BIO_CTRL_FLUSH:
        return 1
    case BIO_CTRL_PENDING:
        return ByteBufferBIO.owner(of: bio)?.inboundReadableBytes ?? 0
    case BIO_CTRL_WPENDING:
        return ByteBufferBIO.owner(of: bio)?.outboundReadableBytes ?? 0
    case BIO_CTRL_GET_CLOSE:
        return Int(BIO_get_shutdown(bio))
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(bio, Int32(larg))
        return 1
    default:
        return 0
    }
}

private func byteBufferBIOCreate(_ bio: OpaquePointer?) -> Int32 {
    guard let bio else { return 0 }
    BIO_set_init(bio, 1)
    return 1
}

private func byteBufferBIODestroy(_ bio: OpaquePointer?) -> Int32 {
    // The data pointer is unretained (see ByteBufferBIO): nothing to release here.
    1
}

/// A `BIO` whose two directions are NIO `ByteBuffer`s, so ciphertext goes straight from the
/// channel's read buffer into OpenSSL and straight out of OpenSSL into a buffer the channel writes:
/// no intermediate `BIO_s_mem` (which would cost one extra copy each way).
///
/// Ownership and lifetimes:
/// - `BIO_METHOD`: one per process (`method`), built on first use and intentionally never freed.
/// - `BIO`: created by `init` with one reference, owned by this object and dropped in `deinit`.
///   `retainedBIO()` adds a second reference for `SSL_set_bio`, which the `SSL` releases in `SSL_free`.
/// - The BIO's data pointer is this object, **unretained** (no cycle). It is set in `init` and
///   cleared in `deinit` before the BIO reference is dropped, and the callbacks treat a nil data
///   pointer as an error; OpenSSL only calls the BIO from `SSL_*` calls made by `TLSConnection`, which
///   holds this object strongly for as long as its `SSL` exists.
/// - `inbound`: the ciphertext received from the network and not yet consumed; usually the very
///   buffer NIO read into (held only until OpenSSL has consumed it, then dropped).
/// - `outbound`: ciphertext OpenSSL produced since the last `takeOutbound()`. Many records are
///   coalesced into one buffer, sized for what was written. `takeOutbound()` hands the channel a
///   slice of a small storage (`minimumOutboundCapacity`, the usual request or response record) and
///   keeps the storage: once the channel has written the slice (normally before the flush returns)
///   it is uniquely referenced again and the next record is written into it, which saves an
///   allocation and a free per record (~700 instructions). A storage that grew is handed over
///   whole and not kept: keeping 16 KiB ones cost 32 KiB per connection (NIO rounds capacities up
///   to a power of two), ~5 MiB of RSS for the ~150 pooled mTLS connections of the benchmark,
///   where a small one costs 2 KiB each.
final class ByteBufferBIO {
    nonisolated(unsafe) private static let method: OpaquePointer = {
        let type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
        guard let method = BIO_meth_new(type, "sidecar ByteBuffer BIO") else {
            fatalError("BIO_meth_new failed")
        }
        BIO_meth_set_write(method, byteBufferBIOWrite)
        BIO_meth_set_read(method, byteBufferBIORead)
        BIO_meth_set_puts(method, byteBufferBIOPuts)
        BIO_meth_set_ctrl(method, byteBufferBIOCtrl)
        BIO_meth_set_create(method, byteBufferBIOCreate)
        BIO_meth_set_destroy(method, byteBufferBIODestroy)
        return method
    }()

    /// Smallest outbound storage allocated: enough for a small response's record or a handshake
    /// flight without growing, small enough that a burst of tiny records costs little.
    private static let minimumOutboundCapacity = 2 * 1024

    private let bio: OpaquePointer
    /// The channel's allocator (the TLS handler's plaintext buffers come from it too).
    let allocator: ByteBufferAllocator
    private var inbound: ByteBuffer?
    private var outbound: ByteBuffer

    init(allocator: ByteBufferAllocator) {
        guard let bio = BIO_new(Self.method) else { fatalError("BIO_new failed") }
        self.bio = bio
        self.allocator = allocator
        self.outbound = allocator.buffer(capacity: 0)  // shared empty storage: no allocation
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        BIO_set_data(bio, nil)
        BIO_free(bio)
    }

    static func owner(of bio: OpaquePointer) -> ByteBufferBIO? {
        guard let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<ByteBufferBIO>.fromOpaque(data).takeUnretainedValue()
    }

    /// The BIO with one extra reference, to hand to `SSL_set_bio` (which takes ownership of it).
    func retainedBIO() -> OpaquePointer {
        BIO_up_ref(bio)
        return bio
    }

    // MARK: network side

    /// Queues ciphertext read from the network. Normally `inbound` is empty and the buffer is kept
    /// as is (no copy); only when OpenSSL left bytes unconsumed are the new bytes appended.
    func receiveFromNetwork(_ buffer: ByteBuffer) {
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = buffer
        } else {
            var buffer = buffer
            inbound!.writeBuffer(&buffer)
        }
    }

    /// Ciphertext produced since the last call, or nil when there is none.
    func takeOutbound() -> ByteBuffer? {
        let count = outbound.readableBytes
        guard count > 0 else { return nil }
        if outbound.capacity <= Self.minimumOutboundCapacity {
            return outbound.readSlice(length: count)  // the storage stays, for the next record
        }
        let result = outbound
        outbound = allocator.buffer(capacity: 0)
        return result
    }

    /// Lets go of the outbound storage kept for the next record, unless it holds ciphertext not
    /// yet taken (the connection went idle).
    func releaseIdleStorage() {
        if outbound.readableBytes == 0 { outbound = allocator.buffer(capacity: 0) }
    }

    var inboundReadableBytes: Int { inbound?.readableBytes ?? 0 }
    var outboundReadableBytes: Int { outbound.readableBytes }

    // MARK: OpenSSL side (called from the C thunks above)

    /// Called by the BIO's write callback (and by tests).
    func appendOutbound(_ bytes: UnsafeRawBufferPointer) {
        if outbound.capacity == 0 {
            outbound = allocator.buffer(capacity: max(bytes.count, Self.minimumOutboundCapacity))
        } else if outbound.readableBytes == 0 {
            // All of it was handed out: start over, in the same storage when the channel is done
            // with it (`clear()` allocates a fresh one of the same size when it is not).
            outbound.clear(minimumCapacity: bytes.count)
        }
        outbound.writeBytes(bytes)
    }

    fileprivate func copyInbound(into target: UnsafeMutableRawBufferPointer) -> Int {
        guard var buffer = inbound, buffer.readableBytes > 0 else { return 0 }
        let count = min(target.count, buffer.readableBytes)
        buffer.withUnsafeReadableBytes { source in
            target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(count)))
        }
        buffer.moveReaderIndex(forwardBy: count)
        // Drop the network buffer as soon as it is consumed so NIO can reuse it.
        inbound = buffer.readableBytes > 0 ? buffer : nil
        return count
    }
}

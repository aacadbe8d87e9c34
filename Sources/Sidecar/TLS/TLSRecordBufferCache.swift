import COpenSSL
import CRecordBufferCache

/// Has OpenSSL allocate through `CRecordBufferCache`: malloc and free, except that the blocks of
/// TLS record buffers are kept per thread for the next record instead of going back to malloc.
///
/// Every connection releases its record buffers after each record (`SSL_MODE_RELEASE_BUFFERS`,
/// see `TLSConnection`), so idle connections hold none; without the cache each record then costs
/// a malloc and a free of ~16.5 KiB, which glibc serves slowly (beyond its per-thread caches).
/// See `record_buffer_cache.c` for the bounds (4 blocks, 72 KiB, per thread).
public enum TLSRecordBufferCache {
    /// Installs the allocation functions. OpenSSL accepts them only before its first allocation,
    /// so the command calls this first thing; false when it is too late (then OpenSSL keeps
    /// plain malloc, which is correct, only slower).
    @discardableResult
    public static func install() -> Bool {
        CRYPTO_set_mem_functions(sidecar_record_buffer_malloc, sidecar_record_buffer_realloc, sidecar_record_buffer_free) == 1
    }

    /// Whether OpenSSL allocates through the cache in this process.
    public static var isInstalled: Bool {
        var malloc: CRYPTO_malloc_fn?
        var realloc: CRYPTO_realloc_fn?
        var free: CRYPTO_free_fn?
        CRYPTO_get_mem_functions(&malloc, &realloc, &free)
        guard let malloc else { return false }
        return unsafeBitCast(malloc, to: UnsafeRawPointer.self) == unsafeBitCast(sidecar_record_buffer_malloc as CRYPTO_malloc_fn, to: UnsafeRawPointer.self)
    }
}

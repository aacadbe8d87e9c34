// A per-thread cache of the blocks OpenSSL allocates for TLS record buffers.
//
// The sidecar sets SSL_MODE_RELEASE_BUFFERS on every connection: an idle connection then holds
// no record buffers (~33 KiB each otherwise, and a sidecar holds many idle pooled connections).
// The price is that OpenSSL allocates and frees a read buffer (16,712 bytes in OpenSSL 3.0) for
// every record it reads and a write buffer (~16,500 bytes) for every record it writes. Blocks
// that size are beyond glibc's per-thread caches, so each one is a full malloc and free, with
// bin sorting and coalescing: measured ~1,000 instructions a request on each sidecar of the
// mesh hop (~2% of all it does per request).
//
// This cache keeps a few blocks per thread for the next record. Only requests of
// SIDECAR_RECORD_BUFFER_SMALLEST..SIDECAR_RECORD_BUFFER_BLOCK bytes are served from it, always
// with a block of SIDECAR_RECORD_BUFFER_BLOCK bytes; everything else goes straight to malloc.
// A freed block joins the cache when malloc says it is that large (malloc_usable_size), so a
// block's origin does not matter: any block at least SIDECAR_RECORD_BUFFER_BLOCK bytes long
// serves any request the cache serves. At most SIDECAR_RECORD_BUFFER_SLOTS blocks per thread
// (72 KiB); a thread's cached blocks are freed when it exits.
//
// Cached blocks are not cleared, exactly as malloc does not clear a reused block; OpenSSL does
// not rely on either (SSL_OP_CLEANSE_PLAINTEXT clears buffers before they are freed).
//
// Zero-byte requests get NULL, as from OpenSSL's own CRYPTO_malloc and CRYPTO_realloc. Without
// glibc (no malloc_usable_size to tell a block's size) nothing is cached.

#include "record_buffer_cache.h"

#include <pthread.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#define SIDECAR_RECORD_BUFFER_CACHING 1
#else
#define SIDECAR_RECORD_BUFFER_CACHING 0
#endif

struct record_buffer_cache {
    void *blocks[SIDECAR_RECORD_BUFFER_SLOTS];
    int count;
    int registered;  // the exit destructor is set for this thread
};

static _Thread_local struct record_buffer_cache cache;
#if SIDECAR_RECORD_BUFFER_CACHING
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_made;

// At thread exit. A block freed after this (by another key's destructor) registers the thread
// again, and POSIX runs the destructors again for it.
static void release_cache(void *unused) {
    (void)unused;
    while (cache.count > 0) {
        free(cache.blocks[--cache.count]);
    }
    cache.registered = 0;
}

static void make_exit_key(void) {
    exit_key_made = pthread_key_create(&exit_key, release_cache) == 0;
}
#endif

void *sidecar_record_buffer_malloc(size_t size, const char *file, int line) {
    (void)file;
    (void)line;
    if (size == 0) {
        return NULL;
    }
    if (SIDECAR_RECORD_BUFFER_CACHING && size >= SIDECAR_RECORD_BUFFER_SMALLEST && size <= SIDECAR_RECORD_BUFFER_BLOCK) {
        if (cache.count > 0) {
            return cache.blocks[--cache.count];
        }
        return malloc(SIDECAR_RECORD_BUFFER_BLOCK);
    }
    return malloc(size);
}

void *sidecar_record_buffer_realloc(void *block, size_t size, const char *file, int line) {
    if (block == NULL) {
        return sidecar_record_buffer_malloc(size, file, line);
    }
    if (size == 0) {
        sidecar_record_buffer_free(block, file, line);
        return NULL;
    }
    return realloc(block, size);
}

void sidecar_record_buffer_free(void *block, const char *file, int line) {
    (void)file;
    (void)line;
    if (block == NULL) {
        return;
    }
#if SIDECAR_RECORD_BUFFER_CACHING
    if (cache.count < SIDECAR_RECORD_BUFFER_SLOTS) {
        size_t usable = malloc_usable_size(block);
        // Up to one malloc granule more than a block: what malloc(BLOCK) itself hands out.
        if (usable >= SIDECAR_RECORD_BUFFER_BLOCK && usable < SIDECAR_RECORD_BUFFER_BLOCK + 64) {
            if (!cache.registered) {
                pthread_once(&exit_key_once, make_exit_key);
                // Without the destructor the thread's blocks would outlive it: do not cache.
                if (!exit_key_made || pthread_setspecific(exit_key, &cache) != 0) {
                    free(block);
                    return;
                }
                cache.registered = 1;
            }
            cache.blocks[cache.count++] = block;
            return;
        }
    }
#endif
    free(block);
}

int sidecar_record_buffer_cached(void) {
    return cache.count;
}

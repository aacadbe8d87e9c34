#ifndef SIDECAR_RECORD_BUFFER_CACHE_H
#define SIDECAR_RECORD_BUFFER_CACHE_H

#include <stddef.h>

// OpenSSL's allocation functions (CRYPTO_set_mem_functions's signatures), with a small
// per-thread cache of the blocks that hold TLS record buffers. See record_buffer_cache.c.

void *sidecar_record_buffer_malloc(size_t size, const char *file, int line);
void *sidecar_record_buffer_realloc(void *block, size_t size, const char *file, int line);
void sidecar_record_buffer_free(void *block, const char *file, int line);

// The cache's figures (tests and diagnostics).
enum {
    SIDECAR_RECORD_BUFFER_SMALLEST = 16384,  // sizes this large, up to the block size, are cached
    SIDECAR_RECORD_BUFFER_BLOCK = 18432,     // every cached block has this size
    SIDECAR_RECORD_BUFFER_SLOTS = 4,         // blocks kept per thread, at most
};

// Blocks the calling thread's cache holds now.
int sidecar_record_buffer_cached(void);

#endif

import CMalloc
import CRecordBufferCache
import XCTest

@testable import Sidecar

/// The allocation functions OpenSSL is given (`record_buffer_cache.c`), called directly: the test
/// process's OpenSSL has allocated long before a test runs, so it keeps plain malloc.
final class TLSRecordBufferCacheTests: XCTestCase {
    private let block = Int(SIDECAR_RECORD_BUFFER_BLOCK)
    private let slots = Int(SIDECAR_RECORD_BUFFER_SLOTS)

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        sidecar_record_buffer_malloc(size, #file, #line)!
    }

    private func free(_ pointer: UnsafeMutableRawPointer?) {
        sidecar_record_buffer_free(pointer, #file, #line)
    }

    /// Empties this thread's cache (other tests may have left blocks in it).
    private func drain() {
        var taken: [UnsafeMutableRawPointer] = []
        while sidecar_record_buffer_cached() > 0 { taken.append(allocate(block)) }
        for pointer in taken { Glibc.free(pointer) }
    }

    func testARecordBufferIsReusedForTheNextRecord() {
        drain()
        // OpenSSL 3.0's read buffer (16,712 bytes) and write buffer (16,472 + 88).
        let read = allocate(16_712)
        XCTAssertGreaterThanOrEqual(malloc_usable_size(read), block, "a cached size gets a whole block")
        memset(read, 0xAB, 16_712)
        free(read)
        XCTAssertEqual(sidecar_record_buffer_cached(), 1)
        let write = allocate(16_560)
        XCTAssertEqual(write, read, "the next record's buffer is the block just freed")
        XCTAssertEqual(sidecar_record_buffer_cached(), 0)
        free(write)
        drain()
    }

    func testOtherSizesGoStraightToMalloc() {
        drain()
        for size in [1, 100, 4096, Int(SIDECAR_RECORD_BUFFER_SMALLEST) - 1, block + 100, 65_536] {
            let pointer = allocate(size)
            XCTAssertLessThan(malloc_usable_size(pointer), max(size, 24) + 64, "size \(size) gets no whole block")
            free(pointer)
            XCTAssertEqual(sidecar_record_buffer_cached(), 0, "a block of size \(size) is not kept")
        }
        free(nil)
        XCTAssertEqual(sidecar_record_buffer_cached(), 0)
    }

    /// Zero bytes is NULL, as from OpenSSL's own allocation functions.
    func testZeroBytesIsNull() {
        XCTAssertNil(sidecar_record_buffer_malloc(0, #file, #line))
        XCTAssertNil(sidecar_record_buffer_realloc(nil, 0, #file, #line))
        let pointer = allocate(100)
        XCTAssertNil(sidecar_record_buffer_realloc(pointer, 0, #file, #line), "freed, as OpenSSL's realloc to 0 does")
        let grown = sidecar_record_buffer_realloc(nil, 17_000, #file, #line)
        XCTAssertGreaterThanOrEqual(malloc_usable_size(grown), block, "realloc of nothing is malloc, cache included")
        free(grown)
        drain()
    }

    func testTheCacheIsBounded() {
        drain()
        let blocks = (0..<(slots + 3)).map { _ in allocate(17_000) }
        for pointer in blocks { free(pointer) }
        XCTAssertEqual(Int(sidecar_record_buffer_cached()), slots, "only \(slots) blocks are kept; the rest go back to malloc")
        drain()
    }

    func testABlockReallocatedAwayFromTheSizeIsNotCached() {
        drain()
        var pointer = allocate(17_000)
        pointer = sidecar_record_buffer_realloc(pointer, 64 * 1024, #file, #line)!
        free(pointer)
        XCTAssertEqual(sidecar_record_buffer_cached(), 0)
    }

    /// A thread's cached blocks are freed when it exits (glibc's statistics see them go).
    func testAThreadsBlocksAreFreedWhenItExits() throws {
        func inUse() -> Int { Int(mallinfo2().uordblks) }
        let before = inUse()
        // A POSIX thread, joined: once `pthread_join` returns, the thread's key destructors have
        // run, so the memory is either back or leaked; no waiting on a guess.
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { _ in
            let blocks = (0..<Int(SIDECAR_RECORD_BUFFER_SLOTS)).map { _ in sidecar_record_buffer_malloc(17_000, nil, 0) }
            for pointer in blocks { sidecar_record_buffer_free(pointer, nil, 0) }
            // What it cached, handed back as the thread's result.
            return UnsafeMutableRawPointer(bitPattern: Int(sidecar_record_buffer_cached()))
        }, nil)
        XCTAssertEqual(created, 0)
        var result: UnsafeMutableRawPointer?
        XCTAssertEqual(pthread_join(thread, &result), 0)
        XCTAssertEqual(Int(bitPattern: result), Int(SIDECAR_RECORD_BUFFER_SLOTS), "the thread kept its blocks")
        XCTAssertLessThan(inUse() - before, block, "the exited thread's cached blocks were freed")
    }
}

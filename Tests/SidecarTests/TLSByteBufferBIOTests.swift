import NIOCore
import XCTest

@testable import Sidecar

/// `ByteBufferBIO`'s outbound side: a small storage is reused for the next record once the channel
/// is done with it, never while it still holds a slice of it, and a storage that grew is not kept.
final class TLSByteBufferBIOTests: XCTestCase {
    private func append(_ bio: ByteBufferBIO, _ text: String) {
        Array(text.utf8).withUnsafeBytes { bio.appendOutbound($0) }
    }

    /// Where a buffer's bytes live.
    private func address(_ buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }

    func testASmallStorageIsReusedOnceTheChannelLetsGoOfIt() throws {
        let bio = ByteBufferBIO(allocator: ByteBufferAllocator())
        append(bio, "first")
        var first = try XCTUnwrap(bio.takeOutbound())
        let firstAddress = address(first)
        XCTAssertNil(bio.takeOutbound())
        first = ByteBuffer()  // written: the channel let go
        // A buffer of the same size made now would get the freed storage's memory if the BIO had
        // let go of it too: with it kept, the next record lands where the first one was.
        let blocker = ByteBufferAllocator().buffer(capacity: 2048)
        append(bio, "second")
        let second = try XCTUnwrap(bio.takeOutbound())
        XCTAssertEqual(String(buffer: second), "second")
        XCTAssertEqual(address(second), firstAddress)
        XCTAssertNotEqual(address(blocker), firstAddress)
    }

    /// Once the connection went idle the storage goes: the next record gets a new one.
    func testAnIdleConnectionLetsGoOfItsStorage() throws {
        let bio = ByteBufferBIO(allocator: ByteBufferAllocator())
        append(bio, "first")
        var first = try XCTUnwrap(bio.takeOutbound())
        let firstAddress = address(first)
        first = ByteBuffer()
        append(bio, "pending")
        bio.releaseIdleStorage()  // ciphertext not yet taken stays
        XCTAssertEqual(bio.takeOutbound().map { String(buffer: $0) }, "pending")
        bio.releaseIdleStorage()
        let blocker = ByteBufferAllocator().buffer(capacity: 2048)  // may get the freed memory
        append(bio, "second")
        let second = try XCTUnwrap(bio.takeOutbound())
        XCTAssertEqual(String(buffer: second), "second")
        XCTAssertNotEqual(address(second), firstAddress)
        _ = blocker
    }

    func testAStorageTheChannelStillHoldsIsNeverWrittenAgain() throws {
        let bio = ByteBufferBIO(allocator: ByteBufferAllocator())
        append(bio, "in flight")
        let inFlight = try XCTUnwrap(bio.takeOutbound())
        append(bio, "next record")
        append(bio, " and one more")  // records coalesce until taken
        let next = try XCTUnwrap(bio.takeOutbound())
        XCTAssertEqual(String(buffer: inFlight), "in flight")
        XCTAssertEqual(String(buffer: next), "next record and one more")
        XCTAssertNotEqual(address(next), address(inFlight))
    }

    func testAStorageThatGrewIsHandedOverWholeAndNotKept() throws {
        let bio = ByteBufferBIO(allocator: ByteBufferAllocator())
        let large = String(repeating: "x", count: 5000)
        append(bio, large)
        let taken = try XCTUnwrap(bio.takeOutbound())
        XCTAssertEqual(taken.readableBytes, 5000)
        XCTAssertGreaterThan(taken.capacity, 2048)
        XCTAssertEqual(bio.outboundReadableBytes, 0)
        append(bio, "small")
        let small = try XCTUnwrap(bio.takeOutbound())
        XCTAssertEqual(String(buffer: small), "small")
        XCTAssertLessThanOrEqual(small.capacity, 2048, "a small record after a large one gets a small storage")
        XCTAssertEqual(String(buffer: taken), large)
    }
}

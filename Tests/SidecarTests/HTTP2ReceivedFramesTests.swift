import NIOCore
import XCTest

@testable import Sidecar

/// What a server session delivers for hand-made frames: how nghttp2 and the session's one
/// header block in flight treat malformed or interleaved header blocks.
final class HTTP2ReceivedFramesTests: XCTestCase {
    private final class Recorder: NGHTTP2SessionDelegate {
        var blocks: [(streamID: Int32, block: HTTP2HeaderBlock)] = []
        func sessionReceivedHeaders(_ block: consuming HTTP2HeaderBlock, streamID: Int32, endStream: Bool) { blocks.append((streamID, block)) }
        func sessionReceivedData(_ bytes: UnsafeRawBufferPointer, streamID: Int32) {}
        func sessionReceivedEndOfStream(streamID: Int32) {}
        func sessionReceivedEmptyData(streamID: Int32) {}
        func sessionReceivedReset(streamID: Int32, errorCode: UInt32) {}
        func sessionReceivedGoAway(lastStreamID: Int32, errorCode: UInt32) {}
        func sessionReceivedSettings() {}
        func sessionStreamClosed(streamID: Int32, errorCode: UInt32) {}
        func sessionHeadersNotSent(streamID: Int32) {}
    }

    private let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// HPACK: :method GET, :scheme http, :path /, :authority svc (literal without indexing).
    private let requestPseudo: [UInt8] = [0x82, 0x86, 0x84, 0x01, 0x03] + Array("svc".utf8)

    /// A literal field without indexing, new name (HPACK section 6.2.2), short strings only.
    private func literal(_ name: String, _ value: [UInt8]) -> [UInt8] {
        [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.count)] + value
    }

    private func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    private let headersEnd: UInt8 = 0x5  // END_STREAM | END_HEADERS

    /// The session's delegate is unowned: each test keeps its recorder alive while the session
    /// runs (`withExtendedLifetime`), since an optimised build may end a value's life at its last use.
    private func server() throws -> (NGHTTP2Session, Recorder) {
        let session = try NGHTTP2Session(role: .server, settings: NGHTTP2Session.Settings())
        let recorder = Recorder()
        session.delegate = recorder
        return (session, recorder)
    }

    /// Frame types the session answers with, in order.
    private func outputFrameTypes(_ session: NGHTTP2Session) throws -> [UInt8] {
        var out = ByteBuffer()
        try session.drainOutput(into: &out, limit: 1 << 16)
        var types: [UInt8] = []
        var bytes = Array(out.readableBytesView)
        while bytes.count >= 9 {
            let length = Int(bytes[0]) << 16 | Int(bytes[1]) << 8 | Int(bytes[2])
            types.append(bytes[3])
            bytes.removeFirst(9 + length)
        }
        return types
    }

    /// CR, LF and NUL in a value never reach a block: the stream is reset (RST_STREAM, type 3).
    /// Pins what nghttp2 does before `HTTP2HeaderBlock`'s own check.
    func testLineBreaksAndNULInValuesResetTheStream() throws {
        for value in [Array("a\r\nb".utf8), [0x61, 0x00, 0x62], Array("a\nb".utf8)] {
            let (session, recorder) = try server()
            let block = requestPseudo + literal("x-bad", value) + literal("x-after", Array("1".utf8))
            try session.receive(ByteBuffer(bytes: preface + frame(type: 4, flags: 0, stream: 0, []) + frame(type: 1, flags: headersEnd, stream: 1, block)))
            XCTAssertTrue(recorder.blocks.isEmpty, "\(value)")
            try withExtendedLifetime(recorder) { XCTAssertTrue(try outputFrameTypes(session).contains(3), "RST_STREAM for \(value)") }
        }
        // Bytes above 0x7F are field content: delivered as they are.
        let (session, recorder) = try server()
        let block = requestPseudo + literal("x-high", [0x61, 0xFF, 0x62])
        try session.receive(ByteBuffer(bytes: preface + frame(type: 4, flags: 0, stream: 0, []) + frame(type: 1, flags: headersEnd, stream: 1, block)))
        let head = try HTTP2HeaderTranslation.requestHead(from: XCTUnwrap(recorder.blocks.first).block).get()
        XCTAssertEqual(head.fields.withField(at: try XCTUnwrap(head.fields.firstIndex(name: "x-high"))) { _, value in Array(value) }, [0x61, 0xFF, 0x62])
    }

    /// A header block for another stream before the current one ends is a connection error: no
    /// block is delivered, GOAWAY (type 7) goes out.
    func testInterleavedHeaderBlocksAreAConnectionError() throws {
        let (session, recorder) = try server()
        let noEndHeaders: UInt8 = 0x0
        try session.receive(ByteBuffer(bytes: preface + frame(type: 4, flags: 0, stream: 0, [])
            + frame(type: 1, flags: noEndHeaders, stream: 1, requestPseudo) + frame(type: 1, flags: headersEnd, stream: 3, requestPseudo)))
        XCTAssertTrue(recorder.blocks.isEmpty)
        try withExtendedLifetime(recorder) { XCTAssertTrue(try outputFrameTypes(session).contains(7)) }
    }

    /// A block nghttp2 rejects half way (a bad `:path`) leaves nothing behind: the next stream's
    /// block arrives with only its own fields.
    func testARejectedBlockLeavesNothingForTheNext() throws {
        let (session, recorder) = try server()
        let bad: [UInt8] = [0x82, 0x86, 0x04, 0x03] + Array("/ a".utf8) + [0x01, 0x03] + Array("svc".utf8) + literal("x-stale", Array("1".utf8))
        let good = requestPseudo + literal("x-good", Array("1".utf8))
        try session.receive(ByteBuffer(bytes: preface + frame(type: 4, flags: 0, stream: 0, [])
            + frame(type: 1, flags: headersEnd, stream: 1, bad) + frame(type: 1, flags: headersEnd, stream: 3, good)))
        XCTAssertEqual(recorder.blocks.map(\.streamID), [3])
        XCTAssertEqual(recorder.blocks.first.map { Array($0.block.fields).map(\.name) }, [":method", ":scheme", ":path", ":authority", "x-good"])
    }
}

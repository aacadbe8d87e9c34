/// What an `NGHTTP2Session` reports to the connection handler that owns it. Calls happen on the
/// connection's event loop, from inside `NGHTTP2Session.receive` or `drainOutput`: the delegate may
/// submit frames (they go out on the next drain) but must not feed or drain the session itself.
protocol NGHTTP2SessionDelegate: AnyObject {
    /// A complete header block; `endStream` when the HEADERS frame carried END_STREAM.
    func sessionReceivedHeaders(_ block: consuming HTTP2HeaderBlock, streamID: Int32, endStream: Bool)
    /// A chunk of a DATA frame's payload (valid only during the call).
    func sessionReceivedData(_ bytes: UnsafeRawBufferPointer, streamID: Int32)
    /// END_STREAM on a DATA frame.
    func sessionReceivedEndOfStream(streamID: Int32)
    /// A zero-length DATA frame without END_STREAM (flood accounting).
    func sessionReceivedEmptyData(streamID: Int32)
    /// The peer reset a stream.
    func sessionReceivedReset(streamID: Int32, errorCode: UInt32)
    func sessionReceivedGoAway(lastStreamID: Int32, errorCode: UInt32)
    /// The peer's SETTINGS arrived (e.g. a new SETTINGS_MAX_CONCURRENT_STREAMS).
    func sessionReceivedSettings()
    /// A stream is closed for good, with the RST_STREAM (or GOAWAY) error code; 0 on a clean end.
    func sessionStreamClosed(streamID: Int32, errorCode: UInt32)
    /// A request's HEADERS could not be sent (e.g. the server sent GOAWAY first).
    func sessionHeadersNotSent(streamID: Int32)
}

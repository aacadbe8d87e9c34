/// Fixed HTTP/2 settings and protection thresholds of the sidecar (both directions). Each bound
/// has a counted or visible outcome: a stream past `maxConcurrentStreams` is refused by nghttp2
/// (REFUSED_STREAM), a flood ends the connection with GOAWAY ENHANCE_YOUR_CALM.
enum HTTP2Limits {
    /// SETTINGS_MAX_CONCURRENT_STREAMS the sidecar announces to its callers.
    static let maxConcurrentStreams: UInt32 = 256
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much request (or response) body one stream may have in
    /// flight towards the sidecar before the other side has drained it.
    static let initialStreamWindow: UInt32 = 256 * 1024
    /// The connection-level receive window: bounds what one connection can buffer in total.
    static let connectionWindow: Int32 = 1024 * 1024
    /// A stream's queued outbound body above which it reports "not writable" (backpressure).
    static let streamSendHighWater = 64 * 1024
    /// Largest outbound buffer assembled from nghttp2's output in one go.
    static let maxWriteChunk = 256 * 1024
    /// Queued PING/SETTINGS acknowledgements tolerated (nghttp2 `max_outbound_ack`): a peer that
    /// sends PINGs or SETTINGS without reading the acks loses its connection.
    static let maxOutboundAcks = 1000
    /// SETTINGS entries accepted in one frame.
    static let maxSettingsEntries = 32
    /// CONTINUATION frames accepted after one HEADERS frame (CONTINUATION flood).
    static let maxContinuations = 16
    /// Streams a client connection assumes the server allows before its SETTINGS arrive.
    static let assumedPeerMaxConcurrentStreams = 100
    /// Rapid reset (CVE-2023-44487): client RST_STREAMs tolerated per window.
    static let maxResetsPerWindow = 200
    static let resetWindowSeconds = 10
    /// Zero-length DATA frames without END_STREAM tolerated per connection.
    static let maxEmptyDataFrames = 100
    /// Delay between the graceful GOAWAY (last-stream-id 2^31-1) and the final one on drain.
    static let drainGoAwayDelayMilliseconds: Int64 = 100
}

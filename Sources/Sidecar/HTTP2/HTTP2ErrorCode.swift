/// HTTP/2 error codes (RFC 9113 section 7) used in RST_STREAM and GOAWAY, as plain Swift values so
/// that code outside the nghttp2 wrapper never needs the C enum.
enum HTTP2ErrorCode: UInt32, Sendable {
    case noError = 0x0
    case protocolError = 0x1
    case internalError = 0x2
    case flowControlError = 0x3
    case refusedStream = 0x7
    case cancel = 0x8
    case enhanceYourCalm = 0xb
}

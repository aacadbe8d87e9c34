/// Why an HTTP/1.x message could not be parsed. Shared by the request parser (the downstream
/// side: a 400 `downstream_protocol_error` and the connection closes) and the response parser
/// (the upstream side: the exchange sees a protocol error and the connection closes).
enum HTTP1ParseError: Error, Equatable {
    /// Bytes from an upstream when no request is waiting for a response.
    case unsolicitedResponse
    case invalidStatusLine
    case invalidRequestLine
    /// Not HTTP/1.0 or HTTP/1.1.
    case unsupportedVersion
    case uriTooLong
    case invalidHeader
    case headTooLarge
    case tooManyHeaders
    case invalidContentLength
    case invalidChunk
    /// The connection closed in the middle of a message that had a length.
    case truncated
    /// Both `Transfer-Encoding` and `Content-Length` in a response.
    case ambiguousFraming
    /// A transfer coding other than a lone `chunked` in a response.
    case unsupportedTransferCoding
    /// A `101 Switching Protocols` (the proxy never asks for an upgrade).
    case unexpectedUpgrade
    /// A request head that parses but must not be proxied (smuggling and sanity checks).
    case invalidRequest(HTTP1RequestValidator.Problem)
}

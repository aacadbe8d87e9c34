import NIOHTTP1

/// Request-smuggling and sanity checks on a decoded HTTP/1.x request head, on top of what the
/// parser already rejects (invalid chunk sizes, bad tokens, oversized header lists).
///
/// One pass over the header list, comparing bytes: this runs for every request, so it makes no
/// `String`s and splits nothing into arrays.
enum HTTP1RequestValidator {
    enum Problem: Error, Equatable {
        case contentLengthWithTransferEncoding
        case invalidContentLength
        case unsupportedTransferEncoding
        case missingHost
        case multipleHosts
        case uriTooLong
    }

    /// How the request's body is framed, once the head is known to be acceptable.
    enum BodyFraming: Equatable {
        case none
        case contentLength(Int)
        case chunked
    }

    /// What an acceptable head means for the proxy.
    struct Verdict: Equatable {
        var framing: BodyFraming
        /// The caller sent `Expect: 100-continue` (the sidecar answers it).
        var expectsContinue: Bool
        /// The length, when `Content-Length` was a list of equal values (`3, 3`): it is passed
        /// on as one plain value, since the next hop may read a list its own way.
        var contentLengthToRewrite: Int? = nil
    }

    static func validate(_ head: ProxyRequestHead, maxUriBytes: Int) -> Result<Verdict, Problem> {
        if head.uri.utf8.count > maxUriBytes { return .failure(.uriTooLong) }
        // Comma-separated list items, counted as `HTTPHeaders[canonicalForm:]` would split them.
        var hosts = 0
        var transferCodings = 0
        var onlyChunked = true
        var contentLengthHeaders = 0
        var length: Int?
        var lengthInvalid = false
        var lengthIsPlain = true
        var expectsContinue = false
        head.fields.forEachField { name, value in
            switch name.count {
            case 4 where name.equalsIgnoringASCIICase("host"):
                forEachListItem(value) { _ in hosts += 1 }
            case 6 where name.equalsIgnoringASCIICase("expect"):
                if !expectsContinue {
                    forEachListItem(value) { item in
                        if item.equalsIgnoringASCIICase("100-continue") { expectsContinue = true }
                    }
                }
            case 14 where name.equalsIgnoringASCIICase("content-length"):
                contentLengthHeaders += 1
                if !lengthInvalid, !parseContentLength(value, into: &length) { lengthInvalid = true }
                if lengthIsPlain, !value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) { lengthIsPlain = false }
            case 17 where name.equalsIgnoringASCIICase("transfer-encoding"):
                forEachListItem(value) { item in
                    transferCodings += 1
                    if !item.equalsIgnoringASCIICase("chunked") { onlyChunked = false }
                }
            default:
                return
            }
        }
        if hosts > 1 { return .failure(.multipleHosts) }
        let http10 = head.version.major == 1 && head.version.minor == 0
        if head.version.major == 1, head.version.minor >= 1, hosts == 0 { return .failure(.missingHost) }

        if transferCodings > 0 {
            if contentLengthHeaders > 0 { return .failure(.contentLengthWithTransferEncoding) }
            // Only a lone `chunked` is accepted: anything else cannot be framed safely.
            guard transferCodings == 1, onlyChunked, !http10 else { return .failure(.unsupportedTransferEncoding) }
            return .success(Verdict(framing: .chunked, expectsContinue: expectsContinue))
        }
        guard contentLengthHeaders > 0 else { return .success(Verdict(framing: .none, expectsContinue: expectsContinue)) }
        guard !lengthInvalid, contentLengthHeaders == 1, let length else { return .failure(.invalidContentLength) }
        return .success(Verdict(
            framing: length == 0 ? .none : .contentLength(length),
            expectsContinue: expectsContinue,
            contentLengthToRewrite: lengthIsPlain ? nil : length
        ))
    }

    /// Parses a `Content-Length` value: decimal digits, optionally a comma-separated list of
    /// equal values (RFC 9110 section 8.6), each at most 18 digits, agreeing with any earlier one.
    /// Returns false when the value is not acceptable.
    static func parseContentLength(_ value: UnsafeRawBufferPointer, into length: inout Int?) -> Bool {
        var current = 0
        var digits = 0
        var sawSpaceAfterDigits = false
        func finishItem() -> Bool {
            guard digits > 0 else { return false }
            if let length, length != current { return false }
            length = current
            current = 0
            digits = 0
            sawSpaceAfterDigits = false
            return true
        }
        for byte in value {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard !sawSpaceAfterDigits, digits < 18 else { return false }
                current = current * 10 + Int(byte &- UInt8(ascii: "0"))
                digits += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                if digits > 0 { sawSpaceAfterDigits = true }
            case UInt8(ascii: ","):
                guard finishItem() else { return false }
            default:
                return false
            }
        }
        return finishItem()
    }

    /// Calls `body` with each non-empty run between commas, trimmed of spaces and tabs (an
    /// all-blank run is passed as empty, as `HTTPHeaders[canonicalForm:]` counts it). The bytes
    /// are only valid inside `body`.
    static func forEachListItem(_ value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var value = value
        value.withUTF8 { forEachListItem(UnsafeRawBufferPointer($0), body) }
    }

    /// `forEachListItem` over the value's received bytes.
    static func forEachListItem(_ value: UnsafeRawBufferPointer, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        let bytes = value.assumingMemoryBound(to: UInt8.self)
        let count = bytes.count
        var start = 0
        while start < count {
            var end = start
            while end < count, bytes[end] != UInt8(ascii: ",") { end += 1 }
            if start < end {
                var first = start
                var last = end
                while first < last, bytes[first] == UInt8(ascii: " ") || bytes[first] == UInt8(ascii: "\t") { first += 1 }
                while last > first, bytes[last - 1] == UInt8(ascii: " ") || bytes[last - 1] == UInt8(ascii: "\t") { last -= 1 }
                body(UnsafeBufferPointer(rebasing: bytes[first..<last]))
            }
            start = end + 1
        }
    }
}

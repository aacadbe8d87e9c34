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
    }

    static func validate(_ head: HTTPRequestHead, maxUriBytes: Int) -> Result<Verdict, Problem> {
        if head.uri.utf8.count > maxUriBytes { return .failure(.uriTooLong) }
        // Comma-separated list items, counted as `HTTPHeaders[canonicalForm:]` would split them.
        var hosts = 0
        var transferCodings = 0
        var onlyChunked = true
        var contentLengthHeaders = 0
        var length: Int?
        var lengthInvalid = false
        var expectsContinue = false
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 4 where name.equalsIgnoringASCIICase("host"):
                hosts += listItemCount(value)
            case 6 where name.equalsIgnoringASCIICase("expect"):
                if !expectsContinue { expectsContinue = listContains(value, "100-continue") }
            case 14 where name.equalsIgnoringASCIICase("content-length"):
                contentLengthHeaders += 1
                if !lengthInvalid, !parseContentLength(value, into: &length) { lengthInvalid = true }
            case 17 where name.equalsIgnoringASCIICase("transfer-encoding"):
                forEachListItem(value) { item in
                    transferCodings += 1
                    if !item.equalsIgnoringASCIICase("chunked") { onlyChunked = false }
                }
            default:
                continue
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
        return .success(Verdict(framing: length == 0 ? .none : .contentLength(length), expectsContinue: expectsContinue))
    }

    /// Parses a `Content-Length` value: decimal digits, optionally a comma-separated list of
    /// equal values (RFC 9110 section 8.6), each at most 18 digits, agreeing with any earlier one.
    /// Returns false when the value is not acceptable.
    static func parseContentLength(_ value: String, into length: inout Int?) -> Bool {
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
        for byte in value.utf8 {
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

    /// Calls `body` with each non-empty run between commas, trimmed of spaces and tabs.
    static func forEachListItem(_ value: String, _ body: (Substring.UTF8View) -> Void) {
        let utf8 = value.utf8
        var start = utf8.startIndex
        while start < utf8.endIndex {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
            if start < end {
                var first = start
                var last = end
                while first < last, utf8[first] == UInt8(ascii: " ") || utf8[first] == UInt8(ascii: "\t") {
                    first = utf8.index(after: first)
                }
                while first < last {
                    let before = utf8.index(before: last)
                    guard utf8[before] == UInt8(ascii: " ") || utf8[before] == UInt8(ascii: "\t") else { break }
                    last = before
                }
                body(Substring(value)[first..<last].utf8)
            }
            start = end == utf8.endIndex ? end : utf8.index(after: end)
        }
    }

    static func listItemCount(_ value: String) -> Int {
        var count = 0
        forEachListItem(value) { _ in count += 1 }
        return count
    }

    static func listContains(_ value: String, _ lowercase: StaticString) -> Bool {
        var found = false
        forEachListItem(value) { item in
            if !found, item.equalsIgnoringASCIICase(lowercase) { found = true }
        }
        return found
    }
}

extension Substring.UTF8View {
    /// True when the bytes equal `lowercase` (ASCII lowercase) ignoring ASCII case.
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        let other = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        guard count == other.count else { return false }
        var index = 0
        for byte in self {
            if byte.asciiLowercased != other[index] { return false }
            index += 1
        }
        return true
    }
}

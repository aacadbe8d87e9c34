import NIOHTTP1

/// Removes the headers that describe one connection rather than the message (RFC 9110 section 7.6.1):
/// `Connection` and every header it names, `Keep-Alive`, `TE`, `Transfer-Encoding` (framing is the
/// codec's job), `Upgrade`, `Proxy-*`, and `Expect` (the sidecar answers `100-continue` itself).
enum HopByHopHeaders {
    /// Strips hop-by-hop headers in place. Returns true when the message asked for `Connection: close`.
    @discardableResult
    static func strip(_ headers: inout HTTPHeaders) -> Bool {
        // Most messages carry none of these: one pass over the names decides, instead of a
        // removal scan per header name.
        guard headers.contains(where: { isHopByHop($0.name) }) else { return false }
        var wantsClose = false
        var names: [String] = []
        for token in headers[canonicalForm: "connection"] {
            if token.utf8.count == 5, token.lowercased() == "close" {
                wantsClose = true
            } else {
                names.append(String(token))
            }
        }
        for (name, _) in headers where isHopByHop(name) {
            names.append(name)
        }
        for name in names {
            headers.remove(name: name)
        }
        return wantsClose
    }

    /// True for the names `strip` removes (checked by length first, then case-insensitively).
    static func isHopByHop(_ name: String) -> Bool {
        let utf8 = name.utf8
        switch utf8.count {
        case 2: return equalsIgnoringCase(name, "te")
        case 7: return equalsIgnoringCase(name, "upgrade")
        case 10: return equalsIgnoringCase(name, "connection") || equalsIgnoringCase(name, "keep-alive")
        case 17: return equalsIgnoringCase(name, "transfer-encoding")
        default:
            return utf8.count > 6 && (utf8.first == UInt8(ascii: "p") || utf8.first == UInt8(ascii: "P"))
                && name.lowercased().hasPrefix("proxy-")
        }
    }

    private static func equalsIgnoringCase(_ name: String, _ lowercase: StaticString) -> Bool {
        let other = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        guard name.utf8.count == other.count else { return false }
        var index = 0
        for byte in name.utf8 {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            if folded != other[index] { return false }
            index += 1
        }
        return true
    }
}

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
            if token.equalsIgnoringASCIICase("close") {
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
        case 2: return name.equalsIgnoringASCIICase("te")
        case 7: return name.equalsIgnoringASCIICase("upgrade")
        case 10: return name.equalsIgnoringASCIICase("connection") || name.equalsIgnoringASCIICase("keep-alive")
        case 17: return name.equalsIgnoringASCIICase("transfer-encoding")
        default:
            return utf8.count > 6 && name.hasPrefixIgnoringASCIICase("proxy-")
        }
    }
}

import NIOHTTP1

/// Removes the headers that describe one connection rather than the message (RFC 9110 section 7.6.1):
/// `Connection` and every header it names, `Keep-Alive`, `TE`, `Transfer-Encoding` (framing is the
/// codec's job), `Upgrade`, `Proxy-*`, and `Expect` (the sidecar answers `100-continue` itself).
enum HopByHopHeaders {
    /// Strips hop-by-hop headers in place. Returns true when the message asked for `Connection: close`.
    @discardableResult
    static func strip(_ headers: inout HTTPHeaders) -> Bool {
        // One pass finds them (most messages carry none, or only `Connection: keep-alive`), and
        // a second rebuilds the list without them: no per-name removal scans.
        var found = false
        var wantsClose = false
        var named: [Substring] = []
        for (name, value) in headers where isHopByHop(name) {
            found = true
            guard name.utf8.count == 10, name.equalsIgnoringASCIICase("connection") else { continue }
            HTTP1RequestValidator.forEachListItem(value) { token in
                if token.equalsIgnoringASCIICase("close") {
                    wantsClose = true
                } else if !token.equalsIgnoringASCIICase("keep-alive") {
                    named.append(Substring(decoding: token, as: UTF8.self))
                }
            }
        }
        guard found else { return false }
        var kept: [(String, String)] = []
        kept.reserveCapacity(headers.count)
        for (name, value) in headers where !isHopByHop(name) {
            if !named.isEmpty, named.contains(where: { $0.utf8.count == name.utf8.count && $0.lowercased() == name.lowercased() }) {
                continue
            }
            kept.append((name, value))
        }
        headers = HTTPHeaders(kept)
        return wantsClose
    }

    /// Strips hop-by-hop fields from a field block (a response on its way to the caller) in
    /// place, comparing the received bytes. Returns true when the message asked for `Connection: close`.
    @discardableResult
    static func strip(_ fields: inout HTTPFieldBlock) -> Bool {
        var found = 0
        var firstFound = 0
        var index = -1
        var wantsClose = false
        var named: [[UInt8]] = []
        fields.forEachField { name, value in
            index += 1
            guard isHopByHop(name) else { return }
            if found == 0 { firstFound = index }
            found += 1
            guard name.count == 10, name.equalsIgnoringASCIICase("connection") else { return }
            HTTP1RequestValidator.forEachListItem(value) { token in
                if token.equalsIgnoringASCIICase("close") {
                    wantsClose = true
                } else if !token.equalsIgnoringASCIICase("keep-alive") {
                    named.append(Array(token))
                }
            }
        }
        guard found > 0 else { return false }
        if found == 1, named.isEmpty {
            // The usual case (a lone `Connection: keep-alive`): taken out by its place.
            fields.remove(at: firstFound)
        } else {
            fields.removeAll { name, _ in
                isHopByHop(name) || named.contains { token in token.withUnsafeBytes { name.equalsIgnoringASCIICase($0) } }
            }
        }
        return wantsClose
    }

    /// True for the names `strip` removes (checked by length first, then case-insensitively).
    static func isHopByHop(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isHopByHop(UnsafeRawBufferPointer($0)) }
    }

    static func isHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 2: return name.equalsIgnoringASCIICase("te")
        case 7: return name.equalsIgnoringASCIICase("upgrade") || isProxyPrefixed(name)
        case 10:
            return name.equalsIgnoringASCIICase("connection") || name.equalsIgnoringASCIICase("keep-alive")
                || isProxyPrefixed(name)
        case 17: return name.equalsIgnoringASCIICase("transfer-encoding") || isProxyPrefixed(name)
        default:
            return name.count > 6 && isProxyPrefixed(name)
        }
    }

    /// `Proxy-*`; the first byte rules out most names.
    private static func isProxyPrefixed(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count >= 6, name[0] | 0x20 == UInt8(ascii: "p") else { return false }
        return UnsafeRawBufferPointer(rebasing: name[0..<6]).equalsIgnoringASCIICase("proxy-")
    }
}

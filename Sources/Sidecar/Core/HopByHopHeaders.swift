import NIOHTTP1

/// Removes the headers that describe one connection rather than the message (RFC 9110 section 7.6.1):
/// `Connection` and every header it names, `Keep-Alive`, `TE`, `Transfer-Encoding` (framing is the
/// codec's job), `Upgrade`, `Proxy-*`, and `Expect` (the sidecar answers `100-continue` itself).
enum HopByHopHeaders {
    /// Strips hop-by-hop headers in place. Returns true when the message asked for `Connection: close`.
    @discardableResult
    static func strip(_ headers: inout HTTPHeaders) -> Bool {
        var wantsClose = false
        var named: [String] = []
        if headers.contains(name: "connection") {
            for token in headers[canonicalForm: "connection"] {
                if token.utf8.count == 5, token.lowercased() == "close" {
                    wantsClose = true
                } else if !isAlwaysStripped(token) {
                    named.append(String(token))
                }
            }
            headers.remove(name: "connection")
        }
        for name in named {
            headers.remove(name: name)
        }
        headers.remove(name: "keep-alive")
        headers.remove(name: "te")
        headers.remove(name: "transfer-encoding")
        headers.remove(name: "upgrade")
        headers.remove(name: "proxy-connection")
        headers.remove(name: "proxy-authenticate")
        headers.remove(name: "proxy-authorization")
        return wantsClose
    }

    private static func isAlwaysStripped(_ token: Substring) -> Bool {
        token.lowercased() == "keep-alive"
    }
}

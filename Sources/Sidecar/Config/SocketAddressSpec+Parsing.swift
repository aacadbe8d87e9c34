extension SocketAddressSpec {
    /// Parses `host:port` or `[v6]:port` with a port in 0...65535 (callers that need a
    /// non-zero port check it themselves, see `ConfigBounds.connectPort`).
    ///
    /// The host is an IPv4 literal, a DNS name (letters, digits, `-`, `_`, `.`), or an IPv6 literal
    /// in brackets (stored without them); nil for anything else.
    public static func parse(_ text: String) -> SocketAddressSpec? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
            guard host.contains(":"),
                  host.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." })
            else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.isEmpty, isHostName(host) else { return nil }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let port = Int(portText), port <= 65535
        else { return nil }
        return SocketAddressSpec(host: String(host), port: port)
    }

    /// Letters, digits, `-`, `_` and `.`; not starting with `.`.
    static func isHostName(_ host: Substring) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253, !host.hasPrefix(".") else { return false }
        return host.unicodeScalars.allSatisfy {
            ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
                || $0 == "."
        }
    }

    /// True for `localhost`, `127.0.0.0/8` and `::1`.
    public var isLoopback: Bool {
        let lower = host.lowercased()
        if lower == "localhost" || lower == "::1" || lower == "0:0:0:0:0:0:0:1" { return true }
        let octets = lower.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// True for `0.0.0.0` and `::` (bind to every interface).
    public var isWildcard: Bool {
        host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:0"
    }
}

import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// Maps between HTTP/2 header blocks and the HTTP/1-shaped heads the proxy core works with
/// (`ProxyRequestHead` / `ProxyResponseHead` / trailers as `HTTPHeaders`), both ways:
/// pseudo-headers ⇄ request line / status, `:authority` ⇄ `Host`, cookie crumbs joined, and the
/// connection-specific fields of RFC 9113 section 8.2.2 stripped (`Connection` and what it names,
/// `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade`, `TE` other than `trailers`).
/// Heads go both ways as bytes: a received block already holds its fields as HTTP/1.1 lines, and
/// a head to send is written into an `HTTP2FieldList`; a `String` is made only for the request
/// target, an unusual method, or the rare slow paths (joined cookies, fields a `Connection`
/// names). Pure functions, no nghttp2: unit-tested directly.
enum HTTP2HeaderTranslation {
    enum Problem: Error, Equatable {
        case missingPseudoHeader(String)
        case unknownPseudoHeader(String)
        case pseudoHeaderAfterRegular
        case duplicatePseudoHeader(String)
        case connectionSpecificHeader(String)
        case uppercaseName
        case invalidStatus
        case pseudoHeaderInTrailers
        case tooLarge
        /// A name or value with CR, LF or NUL (nghttp2 refuses these first; checked again here
        /// because the fields become HTTP/1.1 lines).
        case invalidFieldBytes
    }

    // MARK: HTTP/2 → HTTP/1 shape

    /// A received request header block as a request head (version 2.0, `Host` from `:authority`).
    static func requestHead(from block: consuming HTTP2HeaderBlock) -> Result<ProxyRequestHead, Problem> {
        if block.tooLarge { return .failure(.tooLarge) }
        if block.hasInvalidBytes { return .failure(.invalidFieldBytes) }
        var fields = block.takeFields()  // the only holder of its storage: edited in place
        var method: HTTPMethod?
        var methodIsEmpty = false
        var schemeIsEmpty: Bool?
        var authorityIndex: Int?
        var authorityIsEmpty = true
        var path: String?
        var cookieCount = 0
        let walked = walk(fields) { name, value, index in
            if name.equals(":method") {
                if method != nil || methodIsEmpty { return .duplicatePseudoHeader(":method") }
                if value.isEmpty { methodIsEmpty = true } else { method = HTTPMethod(bytes: value) }
            } else if name.equals(":scheme") {
                if schemeIsEmpty != nil { return .duplicatePseudoHeader(":scheme") }
                schemeIsEmpty = value.isEmpty
            } else if name.equals(":authority") {
                if authorityIndex != nil { return .duplicatePseudoHeader(":authority") }
                authorityIndex = index
                authorityIsEmpty = value.isEmpty
            } else if name.equals(":path") {
                if path != nil { return .duplicatePseudoHeader(":path") }
                path = String(decoding: value, as: UTF8.self)
            } else {
                return .unknownPseudoHeader(String(decoding: name, as: UTF8.self))
            }
            return nil
        } regular: { name, _ in
            if name.count == 6, name.equalsIgnoringASCIICase("cookie") { cookieCount += 1 }
        }
        let pseudoCount: Int
        switch walked {
        case .failure(let problem): return .failure(problem)
        case .success(let count): pseudoCount = count
        }
        guard let method else { return .failure(.missingPseudoHeader(":method")) }
        if method != .CONNECT {
            guard schemeIsEmpty == false else { return .failure(.missingPseudoHeader(":scheme")) }
            guard let path, !path.isEmpty else { return .failure(.missingPseudoHeader(":path")) }
        }
        let uri: String
        if let path {
            uri = path
        } else if let authorityIndex {
            uri = fields.value(at: authorityIndex)
        } else {
            uri = ""
        }
        if authorityIndex != nil, authorityIsEmpty { return .failure(.missingPseudoHeader(":authority")) }
        if let authorityIndex {
            // `Host` from `:authority` (a `host` field the caller also sent gives way), appended
            // before the pseudo-headers go, while the authority's bytes are still listed.
            if fields.contains(lowercaseName: "host") { fields.remove(name: "host") }
            fields.append(name: "host", copyingValueAt: authorityIndex)
            fields.removeFirst(pseudoCount)
        } else {
            fields.removeFirst(pseudoCount)
            if !fields.contains(lowercaseName: "host") { return .failure(.missingPseudoHeader(":authority")) }
        }
        if cookieCount > 1 {
            // RFC 9113 section 8.2.3: crumbs become one field for HTTP/1.
            var crumbs: [String] = []
            for (name, value) in fields where name.equalsIgnoringASCIICase("cookie") { crumbs.append(value) }
            fields.remove(name: "cookie")
            fields.append(name: "cookie", value: crumbs.joined(separator: "; "))
        }
        return .success(ProxyRequestHead(version: HTTPVersion(major: 2, minor: 0), method: method, uri: uri, fields: fields))
    }

    /// A received response header block as a response head.
    static func responseHead(from block: consuming HTTP2HeaderBlock) -> Result<ProxyResponseHead, Problem> {
        if block.tooLarge { return .failure(.tooLarge) }
        if block.hasInvalidBytes { return .failure(.invalidFieldBytes) }
        var fields = block.takeFields()  // the only holder of its storage: edited in place
        var status: Int?
        let walked = walk(fields) { name, value, _ in
            guard name.equals(":status") else { return .unknownPseudoHeader(String(decoding: name, as: UTF8.self)) }
            if status != nil { return .duplicatePseudoHeader(":status") }
            guard value.count == 3, value.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }), value[0] != UInt8(ascii: "0") else {
                return .invalidStatus
            }
            status = Int(value[0] &- 48) * 100 + Int(value[1] &- 48) * 10 + Int(value[2] &- 48)
            return nil
        }
        let pseudoCount: Int
        switch walked {
        case .failure(let problem): return .failure(problem)
        case .success(let count): pseudoCount = count
        }
        guard let status else { return .failure(.missingPseudoHeader(":status")) }
        fields.removeFirst(pseudoCount)
        return .success(ProxyResponseHead(status: HTTPResponseStatus(statusCode: status), fields: fields))
    }

    /// A received trailer block as trailers (no pseudo-headers allowed).
    static func trailers(from block: HTTP2HeaderBlock) -> Result<HTTPHeaders, Problem> {
        if block.tooLarge { return .failure(.tooLarge) }
        if block.hasInvalidBytes { return .failure(.invalidFieldBytes) }
        if case .failure(let problem) = walk(block.fields, pseudo: { _, _, _ in .pseudoHeaderInTrailers }) { return .failure(problem) }
        return .success(block.fields.headers)
    }

    /// Walks a block's fields in order: the pseudo-headers, which must all come first, go to
    /// `pseudo` (with their index; it returns a problem to stop), every other field is checked
    /// (`check`) and goes to `regular`. Returns how many pseudo-headers there were, or the first
    /// problem found.
    private static func walk(
        _ fields: HTTPFieldBlock,
        pseudo: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ index: Int) -> Problem?,
        regular: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void = { _, _ in }
    ) -> Result<Int, Problem> {
        var problem: Problem?
        var index = 0
        var pseudoCount = 0
        fields.forEachField { name, value in
            defer { index += 1 }
            guard problem == nil else { return }
            if name.first == UInt8(ascii: ":") {
                if pseudoCount != index {
                    problem = .pseudoHeaderAfterRegular
                    return
                }
                pseudoCount += 1
                problem = pseudo(name, value, index)
                return
            }
            if let found = check(name: name, value: value) {
                problem = found
                return
            }
            regular(name, value)
        }
        if let problem { return .failure(problem) }
        return .success(pseudoCount)
    }

    /// RFC 9113 section 8.2: names in lower case, no connection-specific fields, `TE` only as
    /// `trailers`.
    private static func check(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Problem? {
        if hasUppercase(name) { return .uppercaseName }
        if isConnectionSpecific(name) { return .connectionSpecificHeader(String(decoding: name, as: UTF8.self)) }
        if name.count == 2, name.equalsIgnoringASCIICase("te"), !value.equalsIgnoringASCIICase("trailers") {
            return .connectionSpecificHeader("te")
        }
        return nil
    }

    /// Whether the bytes hold an ASCII capital, eight bytes at a time.
    private static func hasUppercase(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        var index = 0
        while index + 8 <= bytes.count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if ASCIIWord.lowercased(word) != word { return true }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] &- UInt8(ascii: "A") < 26 { return true }
            index += 1
        }
        return false
    }

    /// Whether a name (any case) is one of the connection-specific fields, by length and bytes.
    static func isConnectionSpecific(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 7: return name.equalsIgnoringASCIICase("upgrade")
        case 10: return name.equalsIgnoringASCIICase("connection") || name.equalsIgnoringASCIICase("keep-alive")
        case 16: return name.equalsIgnoringASCIICase("proxy-connection")
        case 17: return name.equalsIgnoringASCIICase("transfer-encoding")
        default: return false
        }
    }

    // MARK: HTTP/1 shape → HTTP/2

    /// Writes into `list` (emptied first) the header list for sending `head` as an HTTP/2
    /// request: `:method`, `:scheme`, `:authority` (from `Host`), `:path`, then the fields
    /// lower-cased with connection-specific ones stripped. A gRPC request gets `te: trailers`
    /// (gRPC servers expect it); with `marksHTTP1Caller` (the head's flag, when the endpoint is
    /// or may be a sidecar), `x-sidecar-orig-proto: HTTP/1.1`.
    static func requestFields(
        from head: ProxyRequestHead, scheme: String, into list: inout HTTP2FieldList, marksHTTP1Caller: Bool
    ) {
        list.removeAll()
        list.append(name: ":method", value: head.method.rawValue)
        list.append(name: ":scheme", value: scheme)
        let fields = head.fields
        if let host = fields.firstIndex(lowercaseName: "host") {
            fields.withField(at: host) { _, value in
                list.append(name: UnsafeRawBufferPointer(start: (":authority" as StaticString).utf8Start, count: 10), value: value)
            }
        }
        if head.uri.isEmpty { list.append(name: ":path", value: "/") } else { list.append(name: ":path", value: head.uri) }
        let named = connectionNamedFields(fields)
        var isGRPC = false
        var hasTE = false
        fields.forEachField { name, value in
            if name.count == 4, name.equalsIgnoringASCIICase("host") { return }
            if isStripped(name, value: value, named: named) { return }
            if name.count == 12, name.equalsIgnoringASCIICase("content-type"), value.starts(with: "application/grpc".utf8) { isGRPC = true }
            if name.count == 2, name.equalsIgnoringASCIICase("te") { hasTE = true }  // kept only as `te: trailers`
            list.append(name: name, value: value, lowercasingName: true)
        }
        if isGRPC, !hasTE { list.append(name: "te", value: "trailers") }
        if marksHTTP1Caller { list.append(name: "x-sidecar-orig-proto", value: "HTTP/1.1") }
    }

    /// Writes into `list` (emptied first) the header list for sending `head` as an HTTP/2
    /// response: `:status`, then the fields.
    static func responseFields(from head: ProxyResponseHead, into list: inout HTTP2FieldList) {
        list.removeAll()
        let code = head.status.code
        withUnsafeTemporaryAllocation(byteCount: 3, alignment: 1) { digits in
            // Three digits: the parsers accept 100-999; anything else the proxy would have made
            // itself cannot go out as a status, so it goes out as a gateway error.
            let clamped = (100...999).contains(Int(code)) ? Int(code) : 502
            digits[0] = UInt8(truncatingIfNeeded: 48 + clamped / 100)
            digits[1] = UInt8(truncatingIfNeeded: 48 + clamped / 10 % 10)
            digits[2] = UInt8(truncatingIfNeeded: 48 + clamped % 10)
            list.append(name: UnsafeRawBufferPointer(start: (":status" as StaticString).utf8Start, count: 7), value: UnsafeRawBufferPointer(digits))
        }
        let named = connectionNamedFields(head.fields)
        head.fields.forEachField { name, value in
            if isStripped(name, value: value, named: named) { return }
            list.append(name: name, value: value, lowercasingName: true)
        }
    }

    /// Writes into `list` (emptied first) trailers for a trailing HEADERS frame: lower-cased,
    /// connection-specific and pseudo-headers stripped.
    static func trailerFields(from trailers: HTTPHeaders, into list: inout HTTP2FieldList) {
        list.removeAll()
        let fields = HTTPFieldBlock(trailers)
        let named = connectionNamedFields(fields)
        fields.forEachField { name, value in
            if name.first == UInt8(ascii: ":") || isStripped(name, value: value, named: named) { return }
            list.append(name: name, value: value, lowercasingName: true)
        }
    }

    /// The names (lower case) a `Connection` field lists: fields to strip with it. Empty, and no
    /// allocation, when there is no `Connection` field (the usual case: the proxy core has
    /// already dropped hop-by-hop fields).
    private static func connectionNamedFields(_ fields: HTTPFieldBlock) -> [[UInt8]] {
        var named: [[UInt8]] = []
        fields.forEachField { name, value in
            guard name.count == 10, name.equalsIgnoringASCIICase("connection") else { return }
            HTTP1RequestValidator.forEachListItem(value) { token in
                if !token.isEmpty { named.append(token.map(\.asciiLowercased)) }
            }
        }
        return named
    }

    private static func isStripped(_ name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, named: [[UInt8]]) -> Bool {
        if isConnectionSpecific(name) { return true }
        if !named.isEmpty {
            // Before the `te` rule: a `Connection` naming `te` strips even `te: trailers`.
            for candidate in named where candidate.count == name.count {
                if candidate.withUnsafeBytes({ name.equalsIgnoringASCIICase($0) }) { return true }
            }
        }
        if name.count == 2, name.equalsIgnoringASCIICase("te") { return !value.equalsIgnoringASCIICase("trailers") }
        return false
    }
}

extension UnsafeRawBufferPointer {
    /// True when the bytes are exactly `literal`'s (pseudo-header names are case-sensitive).
    fileprivate func equals(_ literal: StaticString) -> Bool {
        count == literal.utf8CodeUnitCount && (count == 0 || memcmp(baseAddress!, literal.utf8Start, count) == 0)
    }
}

import NIOHTTP1

/// Maps between HTTP/2 header blocks and the HTTP/1-shaped heads the proxy core works with
/// (`ProxyRequestHead` / `ProxyResponseHead` / trailers as `HTTPHeaders`), both ways:
/// pseudo-headers ⇄ request line / status, `:authority` ⇄ `Host`, cookie crumbs joined, and the
/// connection-specific fields of RFC 9113 section 8.2.2 stripped (`Connection` and what it names,
/// `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade`, `TE` other than `trailers`).
/// Pure functions, no nghttp2: unit-tested directly.
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
    }

    /// Field names that only make sense on one HTTP/1 connection.
    static let connectionSpecific: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]

    // MARK: HTTP/2 → HTTP/1 shape

    /// A received request header block as a request head (version 2.0, `Host` from `:authority`).
    static func requestHead(from block: HTTP2HeaderBlock) -> Result<ProxyRequestHead, Problem> {
        if block.tooLarge { return .failure(.tooLarge) }
        var method: String?
        var scheme: String?
        var authority: String?
        var path: String?
        var fields = HTTPFieldBlock()
        var cookies: [String] = []
        var regularSeen = false
        for (name, value) in block.fields {
            if name.utf8.first == UInt8(ascii: ":") {
                if regularSeen { return .failure(.pseudoHeaderAfterRegular) }
                switch name {
                case ":method":
                    if method != nil { return .failure(.duplicatePseudoHeader(name)) }
                    method = value
                case ":scheme":
                    if scheme != nil { return .failure(.duplicatePseudoHeader(name)) }
                    scheme = value
                case ":authority":
                    if authority != nil { return .failure(.duplicatePseudoHeader(name)) }
                    authority = value
                case ":path":
                    if path != nil { return .failure(.duplicatePseudoHeader(name)) }
                    path = value
                default:
                    return .failure(.unknownPseudoHeader(name))
                }
                continue
            }
            regularSeen = true
            if let problem = check(name: name, value: value) { return .failure(problem) }
            if name == "cookie" {
                cookies.append(value)
                continue
            }
            if name == "host", authority != nil { continue }
            fields.append(name: name, value: value)
        }
        guard let method, !method.isEmpty else { return .failure(.missingPseudoHeader(":method")) }
        if method != "CONNECT" {
            guard scheme?.isEmpty == false else { return .failure(.missingPseudoHeader(":scheme")) }
            guard let path, !path.isEmpty else { return .failure(.missingPseudoHeader(":path")) }
        }
        if let authority, !authority.isEmpty {
            fields.replaceOrAdd(name: "host", value: authority)
        } else if !fields.contains(name: "host") {
            return .failure(.missingPseudoHeader(":authority"))
        }
        if !cookies.isEmpty { fields.append(name: "cookie", value: cookies.joined(separator: "; ")) }
        let uri = path ?? authority ?? ""
        return .success(ProxyRequestHead(version: HTTPVersion(major: 2, minor: 0), method: HTTPMethod(rawValue: method), uri: uri, fields: fields))
    }

    /// A received response header block as a response head; nil status for a malformed one.
    static func responseHead(from block: HTTP2HeaderBlock) -> Result<ProxyResponseHead, Problem> {
        if block.tooLarge { return .failure(.tooLarge) }
        var status: Int?
        var fields = HTTPFieldBlock()
        var regularSeen = false
        for (name, value) in block.fields {
            if name.utf8.first == UInt8(ascii: ":") {
                if regularSeen { return .failure(.pseudoHeaderAfterRegular) }
                guard name == ":status" else { return .failure(.unknownPseudoHeader(name)) }
                if status != nil { return .failure(.duplicatePseudoHeader(name)) }
                guard value.utf8.count == 3, let code = Int(value), code >= 100 else { return .failure(.invalidStatus) }
                status = code
                continue
            }
            regularSeen = true
            if let problem = check(name: name, value: value) { return .failure(problem) }
            fields.append(name: name, value: value)
        }
        guard let status else { return .failure(.missingPseudoHeader(":status")) }
        return .success(ProxyResponseHead(status: HTTPResponseStatus(statusCode: status), fields: fields))
    }

    /// A received trailer block as trailers (no pseudo-headers allowed).
    static func trailers(from block: HTTP2HeaderBlock) -> Result<HTTPHeaders, Problem> {
        if block.tooLarge { return .failure(.tooLarge) }
        var headers = HTTPHeaders()
        for (name, value) in block.fields {
            if name.utf8.first == UInt8(ascii: ":") { return .failure(.pseudoHeaderInTrailers) }
            if let problem = check(name: name, value: value) { return .failure(problem) }
            headers.add(name: name, value: value)
        }
        return .success(headers)
    }

    private static func check(name: String, value: String) -> Problem? {
        if name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { return .uppercaseName }
        if isConnectionSpecific(name) { return .connectionSpecificHeader(name) }
        if name == "te", !value.equalsIgnoringASCIICase("trailers") { return .connectionSpecificHeader(name) }
        return nil
    }

    /// `connectionSpecific.contains(lowerName)`, by length and bytes (no hashing per field).
    static func isConnectionSpecific(_ lowerName: String) -> Bool {
        switch lowerName.utf8.count {
        case 7: return lowerName == "upgrade"
        case 10: return lowerName == "connection" || lowerName == "keep-alive"
        case 16: return lowerName == "proxy-connection"
        case 17: return lowerName == "transfer-encoding"
        default: return false
        }
    }

    /// The name in lower case; the same string (no copy) when it already is.
    private static func lowercasedName(_ name: String) -> String {
        name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? name.lowercased() : name
    }

    // MARK: HTTP/1 shape → HTTP/2

    /// The header list for sending `head` as an HTTP/2 request: `:method`, `:scheme`,
    /// `:authority` (from `Host`), `:path`, then the fields lower-cased with connection-specific
    /// ones stripped. A gRPC request gets `te: trailers` (gRPC servers expect it).
    static func requestFields(from head: ProxyRequestHead, scheme: String) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(head.fields.count + 5)
        fields.append((":method", head.method.rawValue))
        fields.append((":scheme", scheme))
        if let host = head.fields.first(name: "host") { fields.append((":authority", host)) }
        fields.append((":path", head.uri.isEmpty ? "/" : head.uri))
        let named = connectionNamedFields(head.fields)
        var isGRPC = false
        for (name, value) in head.fields {
            let lower = lowercasedName(name)
            if lower == "host" || isStripped(lower, value: value, named: named) { continue }
            if lower == "content-type", value.hasPrefix("application/grpc") { isGRPC = true }
            fields.append((lower, value))
        }
        if isGRPC, !fields.contains(where: { $0.name == "te" }) { fields.append(("te", "trailers")) }
        return fields
    }

    /// The header list for sending `head` as an HTTP/2 response: `:status`, then the fields.
    static func responseFields(from head: HTTPResponseHead) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(head.headers.count + 1)
        fields.append((":status", String(head.status.code)))
        let named = connectionNamedFields(head.headers)
        for (name, value) in head.headers {
            let lower = lowercasedName(name)
            if isStripped(lower, value: value, named: named) { continue }
            fields.append((lower, value))
        }
        return fields
    }

    /// Trailers for a trailing HEADERS frame: lower-cased, connection-specific and pseudo stripped.
    static func trailerFields(from trailers: HTTPHeaders) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(trailers.count)
        let named = connectionNamedFields(trailers)
        for (name, value) in trailers {
            let lower = lowercasedName(name)
            if lower.utf8.first == UInt8(ascii: ":") || isStripped(lower, value: value, named: named) { continue }
            fields.append((lower, value))
        }
        return fields
    }

    /// The lower-cased names a `Connection` field lists (fields to strip with it).
    private static func connectionNamedFields(_ headers: some Sequence<(name: String, value: String)>) -> Set<String> {
        var named: Set<String> = []
        for (name, value) in headers where name.utf8.count == 10 && name.equalsIgnoringASCIICase("connection") {
            HTTP1RequestValidator.forEachListItem(value) { token in
                if !token.isEmpty { named.insert(String(decoding: token, as: UTF8.self).lowercased()) }
            }
        }
        return named
    }

    private static func isStripped(_ lowerName: String, value: String, named: Set<String>) -> Bool {
        if isConnectionSpecific(lowerName) || (!named.isEmpty && named.contains(lowerName)) { return true }
        if lowerName == "te" { return !value.equalsIgnoringASCIICase("trailers") }
        return false
    }
}

import NIOHTTP1

/// Request-smuggling and sanity checks on a decoded HTTP/1.x request head, on top of what the
/// parser already rejects (invalid chunk sizes, bad tokens, oversized header lists).
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

    static func validate(_ head: HTTPRequestHead, maxUriBytes: Int) -> Result<BodyFraming, Problem> {
        if head.uri.utf8.count > maxUriBytes { return .failure(.uriTooLong) }
        let headers = head.headers
        let hosts = headers[canonicalForm: "host"]
        if hosts.count > 1 { return .failure(.multipleHosts) }
        if head.version.major == 1, head.version.minor >= 1, hosts.isEmpty { return .failure(.missingHost) }

        let transferEncodings = headers[canonicalForm: "transfer-encoding"]
        let contentLengths = headers["content-length"]
        if !transferEncodings.isEmpty {
            if !contentLengths.isEmpty { return .failure(.contentLengthWithTransferEncoding) }
            // Only a lone `chunked` is accepted: anything else cannot be framed safely.
            guard transferEncodings.count == 1, transferEncodings[0].lowercased() == "chunked" else {
                return .failure(.unsupportedTransferEncoding)
            }
            if head.version.major == 1, head.version.minor == 0 { return .failure(.unsupportedTransferEncoding) }
            return .success(.chunked)
        }
        guard !contentLengths.isEmpty else { return .success(.none) }
        var length: Int?
        for value in contentLengths {
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = item.trimmingSpaces()
                guard !trimmed.isEmpty, trimmed.utf8.count <= 18, trimmed.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                    let parsed = Int(trimmed)
                else { return .failure(.invalidContentLength) }
                if let length, length != parsed { return .failure(.invalidContentLength) }
                length = parsed
            }
        }
        if contentLengths.count > 1 { return .failure(.invalidContentLength) }
        guard let length else { return .failure(.invalidContentLength) }
        return .success(length == 0 ? .none : .contentLength(length))
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " || result.first == "\t" { result = result.dropFirst() }
        while result.last == " " || result.last == "\t" { result = result.dropLast() }
        return result
    }
}

import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

extension HTTPMethod {
    /// The method for its bytes (a request line's token or an HTTP/2 `:method` value): the
    /// common ones without making a `String`.
    init(bytes: UnsafeRawBufferPointer) {
        func equals(_ literal: StaticString) -> Bool {
            guard bytes.count == literal.utf8CodeUnitCount else { return false }
            return memcmp(bytes.baseAddress!, literal.utf8Start, bytes.count) == 0
        }
        switch bytes.count {
        case 3:
            if equals("GET") { self = .GET; return }
            if equals("PUT") { self = .PUT; return }
        case 4:
            if equals("POST") { self = .POST; return }
            if equals("HEAD") { self = .HEAD; return }
        case 5:
            if equals("PATCH") { self = .PATCH; return }
            if equals("TRACE") { self = .TRACE; return }
        case 6:
            if equals("DELETE") { self = .DELETE; return }
        case 7:
            if equals("OPTIONS") { self = .OPTIONS; return }
            if equals("CONNECT") { self = .CONNECT; return }
        default:
            break
        }
        self = HTTPMethod(rawValue: String(decoding: bytes, as: UTF8.self))
    }
}

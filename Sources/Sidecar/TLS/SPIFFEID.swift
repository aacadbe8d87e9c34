/// A SPIFFE ID (`spiffe://trust-domain/path`), validated per the SPIFFE ID specification:
///
/// - the scheme is exactly `spiffe` (lowercase) followed by `://`;
/// - the trust domain is non-empty, at most 255 bytes, of lowercase letters, digits, `.`, `-`, `_`;
///   a port (`:`), userinfo (`@`), query (`?`) or fragment (`#`) is refused;
/// - the path is empty or a sequence of `/segment`, each segment non-empty, of letters, digits,
///   `.`, `-`, `_`, and neither `.` nor `..` (so no trailing slash and no `//`);
/// - the whole ID is at most 2048 bytes.
public struct SPIFFEID: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The trust domain, e.g. `mesh.local`.
    public let trustDomain: String
    /// The path, `""` or e.g. `/ns/default/sa/orders`.
    public let path: String

    /// Where the first `://` starts.
    private static func firstSchemeSeparator(in utf8: String.UTF8View) -> String.Index? {
        var index = utf8.startIndex
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: ":") {
                let second = utf8.index(after: index)
                if second != utf8.endIndex, utf8[second] == UInt8(ascii: "/") {
                    let third = utf8.index(after: second)
                    if third != utf8.endIndex, utf8[third] == UInt8(ascii: "/") { return index }
                }
            }
            index = utf8.index(after: index)
        }
        return nil
    }

    public static let maximumLength = 2048
    public static let maximumTrustDomainLength = 255

    /// Parses and validates `string`; throws a `SPIFFEIDError` naming the broken rule.
    public init(parsing string: String) throws {
        let prefix = "spiffe://"
        guard string.utf8.count <= Self.maximumLength else {
            throw SPIFFEIDError(input: string, reason: "longer than \(Self.maximumLength) bytes")
        }
        guard !string.isEmpty else { throw SPIFFEIDError(input: string, reason: "empty") }
        // Byte searches, not Foundation's `range(of:)`: this runs for every mutual-TLS handshake.
        if let schemeEnd = Self.firstSchemeSeparator(in: string.utf8) {
            let scheme = string[string.startIndex..<schemeEnd]
            guard scheme == "spiffe" else {
                throw SPIFFEIDError(input: string, reason: "scheme must be \"spiffe\" (lowercase), found \"\(scheme)\"")
            }
        } else {
            throw SPIFFEIDError(input: string, reason: "missing \"spiffe://\" scheme")
        }
        if string.utf8.contains(UInt8(ascii: "?")) { throw SPIFFEIDError(input: string, reason: "query is not allowed") }
        if string.utf8.contains(UInt8(ascii: "#")) { throw SPIFFEIDError(input: string, reason: "fragment is not allowed") }

        let rest = string.utf8.dropFirst(prefix.utf8.count)
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        let domainBytes = rest[rest.startIndex..<slash]
        let pathBytes = rest[slash..<rest.endIndex]

        guard !domainBytes.isEmpty else { throw SPIFFEIDError(input: string, reason: "trust domain is empty") }
        if domainBytes.contains(UInt8(ascii: "@")) {
            throw SPIFFEIDError(input: string, reason: "userinfo is not allowed")
        }
        if domainBytes.contains(UInt8(ascii: ":")) {
            throw SPIFFEIDError(input: string, reason: "port is not allowed")
        }
        guard domainBytes.count <= Self.maximumTrustDomainLength else {
            throw SPIFFEIDError(
                input: string, reason: "trust domain longer than \(Self.maximumTrustDomainLength) bytes")
        }
        for byte in domainBytes where !Self.isTrustDomainByte(byte) {
            let reason: String
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
                reason = "trust domain must be lowercase"
            } else {
                reason = "trust domain may only contain [a-z0-9.-_], found \(Self.show(byte))"
            }
            throw SPIFFEIDError(input: string, reason: reason)
        }

        if !pathBytes.isEmpty {
            // pathBytes starts with "/": split keeping empty segments so "//" and a trailing "/" are caught.
            let segments = pathBytes.dropFirst().split(
                separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            for segment in segments {
                if segment.isEmpty {
                    throw SPIFFEIDError(input: string, reason: "path segments must not be empty")
                }
                if segment.elementsEqual(".".utf8) || segment.elementsEqual("..".utf8) {
                    throw SPIFFEIDError(input: string, reason: "path segments must not be \".\" or \"..\"")
                }
                for byte in segment where !Self.isPathByte(byte) {
                    throw SPIFFEIDError(
                        input: string,
                        reason: "path may only contain [A-Za-z0-9.-_], found \(Self.show(byte))")
                }
            }
        }
        self.trustDomain = String(decoding: domainBytes, as: UTF8.self)
        self.path = String(decoding: pathBytes, as: UTF8.self)
    }

    /// Parses `string`, returning nil when it is not a valid SPIFFE ID.
    public init?(_ string: String) {
        guard let id = try? SPIFFEID(parsing: string) else { return nil }
        self = id
    }

    /// Builds `spiffe://trustDomain/path` and validates the result.
    public init(trustDomain: String, path: String) throws {
        try self.init(parsing: "spiffe://\(trustDomain)\(path.isEmpty || path.hasPrefix("/") ? path : "/" + path)")
    }

    /// The ID as a string, `spiffe://trust-domain/path`.
    public var description: String { "spiffe://\(trustDomain)\(path)" }

    /// `spiffe://trust-domain`, the ID of the trust domain itself.
    public var trustDomainID: String { "spiffe://\(trustDomain)" }

    public func isMember(of trustDomain: String) -> Bool { self.trustDomain == trustDomain }

    public static func < (lhs: SPIFFEID, rhs: SPIFFEID) -> Bool { lhs.description < rhs.description }

    /// Validates a bare trust domain name (the same rules as the host part of an ID).
    public static func validateTrustDomain(_ trustDomain: String) throws {
        let id = try SPIFFEID(parsing: "spiffe://\(trustDomain)")
        guard id.trustDomain == trustDomain else {
            throw SPIFFEIDError(input: trustDomain, reason: "not a trust domain name")
        }
    }

    private static func isTrustDomainByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    private static func isPathByte(_ b: UInt8) -> Bool {
        isTrustDomainByte(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }

    private static func show(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "\"\(Character(Unicode.Scalar(b)))\"" : "byte 0x\(String(b, radix: 16))"
    }
}

/// Why a string is not a valid SPIFFE ID.
public struct SPIFFEIDError: Error, Sendable, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String

    public var description: String { "invalid SPIFFE ID \"\(input.prefix(200))\": \(reason)" }
}

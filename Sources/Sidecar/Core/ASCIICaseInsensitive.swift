/// Byte-wise ASCII comparisons for header names and tokens: no `String` is made, no Unicode
/// machinery or Foundation runs (these are on every request's path).
extension StringProtocol {
    /// True when the text equals `lowercase` (which must be ASCII lowercase) ignoring ASCII case.
    @inlinable
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        let utf8 = self.utf8
        guard utf8.count == count else { return false }
        let other = lowercase.utf8Start
        // Native strings are contiguous: compare through a pointer, not the UTF-8 view's iterator.
        if let equal = utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            for index in 0..<count where bytes[index].asciiLowercased != other[index] { return false }
            return true
        }) {
            return equal
        }
        var index = 0
        for byte in utf8 {
            if byte.asciiLowercased != other[index] { return false }
            index += 1
        }
        return true
    }

    /// True when the text starts with `lowercase` (ASCII lowercase) ignoring ASCII case.
    @inlinable
    func hasPrefixIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        let other = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        var index = 0
        for byte in utf8 {
            if index == other.count { return true }
            if byte.asciiLowercased != other[index] { return false }
            index += 1
        }
        return index == other.count
    }
}

extension UnsafeRawBufferPointer {
    /// True when the bytes equal `lowercase` (ASCII lowercase) ignoring ASCII case.
    @inline(__always)
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        equalsIgnoringASCIICase(UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount))
    }

    /// True when both byte strings are equal ignoring ASCII case. Eight bytes at a time from
    /// eight bytes on (the last word overlaps the one before it), byte by byte below.
    @inline(__always)
    func equalsIgnoringASCIICase(_ other: UnsafeRawBufferPointer) -> Bool {
        let count = self.count
        guard count == other.count else { return false }
        guard count >= 8, let left = baseAddress, let right = other.baseAddress else {
            for index in 0..<count where self[index].asciiLowercased != other[index].asciiLowercased { return false }
            return true
        }
        var index = 0
        while true {
            let x = left.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let y = right.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if x != y, ASCIIWord.lowercased(x) != ASCIIWord.lowercased(y) { return false }
            if index + 8 == count { return true }
            index = Swift.min(index + 8, count - 8)
        }
    }
}

/// Eight bytes at once.
enum ASCIIWord {
    /// `word` with its ASCII upper-case letters, and nothing else, made lower case.
    @inline(__always)
    static func lowercased(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        // Bytes without their high bit, so that no sum below carries into its neighbour; a byte's
        // high bit after adding 0x80 - 0x41 says it is >= "A", after adding 0x7F - 0x5A that it is > "Z".
        let low = word & 0x7F7F_7F7F_7F7F_7F7F
        let upper = (low &+ ones &* 0x3F) & ~(low &+ ones &* 0x25) & ~word & 0x8080_8080_8080_8080
        return word | (upper >> 2)
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// True when the bytes equal `lowercase` (ASCII lowercase) ignoring ASCII case.
    @inline(__always)
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        UnsafeRawBufferPointer(self).equalsIgnoringASCIICase(lowercase)
    }
}

extension UInt8 {
    @inlinable
    var asciiLowercased: UInt8 { self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z") ? self | 0x20 : self }
}

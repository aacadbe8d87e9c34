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

    /// True when both byte strings are equal ignoring ASCII case.
    @inline(__always)
    func equalsIgnoringASCIICase(_ other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        for index in 0..<count where self[index].asciiLowercased != other[index].asciiLowercased { return false }
        return true
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

import NIOCore
import NIOHTTP1

/// A message's header fields kept in the bytes they arrived in: the received head (a `ByteBuffer`
/// slice, not a copy) and where each field's name and value lie in it. Looking a field up
/// compares bytes; forwarding the block over HTTP/1.1 copies its lines, whole runs at a time; a
/// `String` is made only for a field someone asks for by value.
///
/// `HTTPHeaders` makes two `String`s for every field of every message, checks them again, and
/// copies them back out when the message is forwarded: on the response path that was ~10 % of a
/// proxy hop's instructions. Fields the proxy adds are appended to the same storage (the received
/// bytes are then copied once, as a `ByteBuffer` is copied on write); removed fields only lose
/// their location.
struct HTTPFieldBlock {
    /// Where one field lies in the storage (offsets from its first readable byte).
    struct Location: Equatable {
        var nameStart: Int32
        var nameEnd: Int32
        var valueStart: Int32
        var valueEnd: Int32
        /// The line is exactly `name: value` CRLF: runs of such lines are copied whole.
        var isCanonicalLine: Bool

        init(nameStart: Int, nameEnd: Int, valueStart: Int, valueEnd: Int, isCanonicalLine: Bool) {
            self.nameStart = Int32(truncatingIfNeeded: nameStart)
            self.nameEnd = Int32(truncatingIfNeeded: nameEnd)
            self.valueStart = Int32(truncatingIfNeeded: valueStart)
            self.valueEnd = Int32(truncatingIfNeeded: valueEnd)
            self.isCanonicalLine = isCanonicalLine
        }

        var nameLength: Int { Int(nameEnd - nameStart) }
        var valueLength: Int { Int(valueEnd - valueStart) }
    }

    private var storage: ByteBuffer
    private var locations: [Location]

    init() {
        storage = ByteBuffer()
        locations = []
    }

    /// Fields found by `HTTP1Syntax.scanFields` in `storage`; the caller checked them.
    init(storage: ByteBuffer, locations: [Location]) {
        precondition(storage.readableBytes < Int(Int32.max), "a head this large is refused long before")
        self.storage = storage
        self.locations = locations
    }

    /// The fields of `headers`, in order (names and values as given).
    init(_ headers: HTTPHeaders) {
        self.init()
        var size = 0
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        storage.reserveCapacity(size)
        locations.reserveCapacity(headers.count)
        for (name, value) in headers { append(name: name, value: value) }
    }

    /// The fields `pairs` names, in order.
    init(_ pairs: [(String, String)]) {
        self.init(HTTPHeaders(pairs))
    }

    /// Room for `bytes` of lines and `fields` fields, so a block built field by field (an HTTP/2
    /// header block) does not grow its storage again and again.
    mutating func reserveCapacity(bytes: Int, fields: Int) {
        storage.reserveCapacity(storage.readableBytes + bytes)
        locations.reserveCapacity(fields)
    }

    var count: Int { locations.count }
    var isEmpty: Bool { locations.isEmpty }

    /// The name of the field at `index`, as received.
    func name(at index: Int) -> String {
        let location = locations[index]
        return storage.getString(at: storage.readerIndex + Int(location.nameStart), length: location.nameLength) ?? ""
    }

    /// The value of the field at `index`, as received (without surrounding whitespace).
    func value(at index: Int) -> String {
        let location = locations[index]
        return storage.getString(at: storage.readerIndex + Int(location.valueStart), length: location.valueLength) ?? ""
    }

    /// Calls `body` with each field's name and value bytes, in order. The pointers are valid
    /// only during the call.
    func forEachField(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard !locations.isEmpty else { return }
        try storage.withUnsafeReadableBytes { bytes in
            for location in locations {
                try body(
                    UnsafeRawBufferPointer(rebasing: bytes[Int(location.nameStart)..<Int(location.nameEnd)]),
                    UnsafeRawBufferPointer(rebasing: bytes[Int(location.valueStart)..<Int(location.valueEnd)])
                )
            }
        }
    }

    /// Calls `body` with the name and value bytes of the field at `index`, valid only during the call.
    func withField<R>(at index: Int, _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let location = locations[index]
        return try storage.withUnsafeReadableBytes { bytes in
            try body(
                UnsafeRawBufferPointer(rebasing: bytes[Int(location.nameStart)..<Int(location.nameEnd)]),
                UnsafeRawBufferPointer(rebasing: bytes[Int(location.valueStart)..<Int(location.valueEnd)])
            )
        }
    }

    /// The index of the first field whose name equals `name`, ignoring ASCII case.
    func firstIndex(name: String) -> Int? {
        guard !locations.isEmpty else { return nil }
        var name = name
        return name.withUTF8 { firstIndex(nameBytes: UnsafeRawBufferPointer($0)) }
    }

    /// `firstIndex(name:)` for a name known when the code was written (ASCII lower case): no
    /// `String` to look at first.
    func firstIndex(lowercaseName name: StaticString) -> Int? {
        guard !locations.isEmpty else { return nil }
        return firstIndex(nameBytes: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    private func firstIndex(nameBytes wanted: UnsafeRawBufferPointer) -> Int? {
        storage.withUnsafeReadableBytes { bytes in
            var index = 0
            for location in locations {
                if location.nameLength == wanted.count,
                    UnsafeRawBufferPointer(rebasing: bytes[Int(location.nameStart)..<Int(location.nameEnd)]).equalsIgnoringASCIICase(wanted)
                {
                    return index
                }
                index += 1
            }
            return nil
        }
    }

    /// The value of the first field named `name` (ASCII case-insensitively).
    func first(name: String) -> String? {
        firstIndex(name: name).map { value(at: $0) }
    }

    func contains(name: String) -> Bool {
        firstIndex(name: name) != nil
    }

    func contains(lowercaseName name: StaticString) -> Bool {
        firstIndex(lowercaseName: name) != nil
    }

    /// Appends `name: <the UUID high, low as text>` (an `x-request-id` made by the sidecar), its
    /// digits written in place: no `String` is made for it.
    mutating func append(name: StaticString, uuidHigh high: UInt64, low: UInt64) {
        appendLine(nameLength: name.utf8CodeUnitCount, valueLength: RequestIDGenerator.textLength) { nameOut, valueOut in
            nameOut.copyMemory(from: name.utf8Start, byteCount: name.utf8CodeUnitCount)
            RequestIDGenerator.write(high: high, low: low, to: valueOut)
        }
    }

    /// Adds `name: value` after the other fields. The caller gives a valid name and a value
    /// without CR, LF or NUL (the proxy's own fields, or fields another codec checked).
    mutating func append(name: String, value: String) {
        var name = name
        var value = value
        name.withUTF8 { nameBytes in
            value.withUTF8 { valueBytes in
                appendLine(nameLength: nameBytes.count, valueLength: valueBytes.count) { nameOut, valueOut in
                    if let source = nameBytes.baseAddress { nameOut.copyMemory(from: source, byteCount: nameBytes.count) }
                    if let source = valueBytes.baseAddress { valueOut.copyMemory(from: source, byteCount: valueBytes.count) }
                }
            }
        }
    }

    /// Whether `bytes` hold a CR, LF or NUL: what must never go into a line of the block (it would
    /// end the line early or cut the head). Eight bytes at a time (four to seven as two
    /// overlapping halves): first whether any byte is below 0x0E, which is one subtraction and
    /// rarely true (only HTAB, of the bytes allowed in a field); only then the exact test, where a
    /// word has a zero byte, or one equal to CR or LF once xor-ed with them, exactly when
    /// `(x - 0x01…) & ~x & 0x80…` is non-zero.
    static func containsLineBreakOrNUL(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return false }
        @inline(__always) func hasByteBelow0x0E(_ x: UInt64) -> Bool {
            (x &- 0x0E0E_0E0E_0E0E_0E0E) & ~x & 0x8080_8080_8080_8080 != 0
        }
        @inline(__always) func hasLineBreakOrNUL(_ word: UInt64) -> Bool {
            @inline(__always) func hasZeroByte(_ x: UInt64) -> Bool {
                (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0
            }
            guard hasByteBelow0x0E(word) else { return false }
            return hasZeroByte(word) || hasZeroByte(word ^ 0x0D0D_0D0D_0D0D_0D0D) || hasZeroByte(word ^ 0x0A0A_0A0A_0A0A_0A0A)
        }
        guard count >= 8 else {
            if count >= 4 {
                let low = UInt64(base.loadUnaligned(as: UInt32.self))
                let high = UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
                return hasLineBreakOrNUL(low | high << 32)
            }
            for index in 0..<count {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                if byte < 0x0E, byte == 0 || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { return true }
            }
            return false
        }
        var index = 0
        while true {
            if hasLineBreakOrNUL(base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { return true }
            if index + 8 == count { return false }
            index = Swift.min(index + 8, count - 8)
        }
    }

    /// Adds `name: value` from bytes, after the other fields. The caller gives a valid name and a
    /// value without CR, LF or NUL (fields another codec checked: nghttp2 validates HTTP/2 fields).
    mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        appendLine(nameLength: name.count, valueLength: value.count) { nameOut, valueOut in
            if let source = name.baseAddress { nameOut.copyMemory(from: source, byteCount: name.count) }
            if let source = value.baseAddress { valueOut.copyMemory(from: source, byteCount: value.count) }
        }
    }

    /// Adds `name: <the value of the field at index>` after the other fields (the `Host` an
    /// HTTP/2 request's `:authority` becomes).
    mutating func append(name: StaticString, copyingValueAt index: Int) {
        let location = locations[index]
        let valueLength = location.valueLength
        withUnsafeTemporaryAllocation(byteCount: Swift.max(valueLength, 1), alignment: 1) { copy in
            storage.withUnsafeReadableBytes { bytes in
                copy.baseAddress!.copyMemory(from: bytes.baseAddress! + Int(location.valueStart), byteCount: valueLength)
            }
            appendLine(nameLength: name.utf8CodeUnitCount, valueLength: valueLength) { nameOut, valueOut in
                nameOut.copyMemory(from: name.utf8Start, byteCount: name.utf8CodeUnitCount)
                valueOut.copyMemory(from: copy.baseAddress!, byteCount: valueLength)
            }
        }
    }

    /// Appends a `name: value` CRLF line in one sized write (`writeString` goes through a generic
    /// path per call): `fill` writes the name at its first pointer and the value at its second.
    private mutating func appendLine(
        nameLength: Int,
        valueLength: Int,
        _ fill: (_ name: UnsafeMutableRawPointer, _ value: UnsafeMutableRawPointer) -> Void
    ) {
        let start = storage.writerIndex - storage.readerIndex
        _ = storage.writeDirectly(minimumWritableBytes: nameLength + valueLength + 4) { out in
            let base = out.baseAddress!
            fill(base, base + nameLength + 2)
            base.storeBytes(of: UInt8(ascii: ":"), toByteOffset: nameLength, as: UInt8.self)
            base.storeBytes(of: UInt8(ascii: " "), toByteOffset: nameLength + 1, as: UInt8.self)
            base.storeBytes(of: UInt8(ascii: "\r"), toByteOffset: nameLength + 2 + valueLength, as: UInt8.self)
            base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: nameLength + 3 + valueLength, as: UInt8.self)
            return nameLength + valueLength + 4
        }
        precondition(storage.readableBytes < Int(Int32.max), "header fields beyond 2 GiB")
        locations.append(Location(
            nameStart: start,
            nameEnd: start + nameLength,
            valueStart: start + nameLength + 2,
            valueEnd: start + nameLength + 2 + valueLength,
            isCanonicalLine: true
        ))
    }

    mutating func remove(at index: Int) {
        locations.remove(at: index)
    }

    /// Drops the first `count` fields (an HTTP/2 block's pseudo-headers, once read).
    mutating func removeFirst(_ count: Int) {
        locations.removeFirst(count)
    }

    /// Removes every field named `name` (ASCII case-insensitively), in one pass: a caller may
    /// send as many fields of one name as the head limits allow.
    mutating func remove(name: String) {
        guard !locations.isEmpty else { return }
        var name = name
        name.withUTF8 { wanted in
            let wanted = UnsafeRawBufferPointer(wanted)
            removeAll { candidate, _ in candidate.equalsIgnoringASCIICase(wanted) }
        }
    }

    /// Removes the fields for which `shouldRemove` is true (given name and value bytes), in one
    /// pass, in place.
    mutating func removeAll(where shouldRemove: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool) {
        guard !locations.isEmpty else { return }
        let storage = self.storage
        storage.withUnsafeReadableBytes { bytes in
            locations.removeAll { location in
                shouldRemove(
                    UnsafeRawBufferPointer(rebasing: bytes[Int(location.nameStart)..<Int(location.nameEnd)]),
                    UnsafeRawBufferPointer(rebasing: bytes[Int(location.valueStart)..<Int(location.valueEnd)])
                )
            }
        }
    }

    /// Gives the only field named `lowercaseName` the value `value`, in place, when the two
    /// values are the same length (the line keeps its place and its bytes around the value);
    /// returns false, changing nothing, when there is no such field, more than one, or the
    /// lengths differ. `value` is one the caller vouches for (no CR, LF or NUL).
    mutating func overwriteOnlyValue(lowercaseName name: StaticString, with value: StaticString) -> Bool {
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        let found: Int? = storage.withUnsafeReadableBytes { bytes in
            var match: Int?
            for (index, location) in locations.enumerated()
            where location.nameLength == wanted.count
                && UnsafeRawBufferPointer(rebasing: bytes[Int(location.nameStart)..<Int(location.nameEnd)]).equalsIgnoringASCIICase(wanted)
            {
                if match != nil { return nil }  // more than one
                match = index
            }
            return match
        }
        guard let found, locations[found].valueLength == value.utf8CodeUnitCount else { return false }
        storage.setBytes(UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount),
                         at: storage.readerIndex + Int(locations[found].valueStart))
        return true
    }

    /// Removes the fields named `name`, then adds `name: value`.
    mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        append(name: name, value: value)
    }

    /// The fields as `HTTPHeaders` (a `String` pair per field): for the HTTP/2 codec and tests.
    var headers: HTTPHeaders {
        var fields: [(String, String)] = []
        fields.reserveCapacity(locations.count)
        forEachField { name, value in
            fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return HTTPHeaders(fields)
    }

    // MARK: - HTTP/1.1 encoding

    /// The size of the fields as HTTP/1.1 lines (`name: value` CRLF each; no blank line).
    var encodedLength: Int {
        var size = 0
        for location in locations { size += location.nameLength + location.valueLength + 4 }
        return size
    }

    /// Writes the fields as HTTP/1.1 lines at `offset` of `out` (sized by `encodedLength`);
    /// returns the offset after them. Consecutive lines that arrived as `name: value` CRLF are
    /// copied in one piece.
    func encode(into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        guard !locations.isEmpty, let destination = out.baseAddress else { return offset }
        return storage.withUnsafeReadableBytes { bytes -> Int in
            guard let source = bytes.baseAddress else { return offset }
            var offset = offset
            var index = 0
            let count = locations.count
            while index < count {
                let location = locations[index]
                if location.isCanonicalLine {
                    let start = Int(location.nameStart)
                    var end = Int(location.valueEnd) + 2
                    index += 1
                    while index < count, locations[index].isCanonicalLine, Int(locations[index].nameStart) == end {
                        end = Int(locations[index].valueEnd) + 2
                        index += 1
                    }
                    (destination + offset).copyMemory(from: source + start, byteCount: end - start)
                    offset += end - start
                    continue
                }
                (destination + offset).copyMemory(from: source + Int(location.nameStart), byteCount: location.nameLength)
                offset += location.nameLength
                destination.storeBytes(of: UInt8(ascii: ":"), toByteOffset: offset, as: UInt8.self)
                destination.storeBytes(of: UInt8(ascii: " "), toByteOffset: offset + 1, as: UInt8.self)
                offset += 2
                (destination + offset).copyMemory(from: source + Int(location.valueStart), byteCount: location.valueLength)
                offset += location.valueLength
                destination.storeBytes(of: UInt8(ascii: "\r"), toByteOffset: offset, as: UInt8.self)
                destination.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: offset + 1, as: UInt8.self)
                offset += 2
                index += 1
            }
            return offset
        }
    }
}

extension HTTPFieldBlock: Equatable {
    /// Equal when the fields (names and values, in order) are; where they are stored does not matter.
    static func == (lhs: HTTPFieldBlock, rhs: HTTPFieldBlock) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for index in 0..<lhs.count where lhs.name(at: index) != rhs.name(at: index) || lhs.value(at: index) != rhs.value(at: index) {
            return false
        }
        return true
    }
}

extension HTTPFieldBlock: Sequence {
    /// The fields as `String` pairs, made as they are visited (for code off the per-request path;
    /// that path reads bytes through `forEachField` and `first(name:)`).
    struct Iterator: IteratorProtocol {
        fileprivate let block: HTTPFieldBlock
        fileprivate var index = 0

        mutating func next() -> (name: String, value: String)? {
            guard index < block.count else { return nil }
            defer { index += 1 }
            return (block.name(at: index), block.value(at: index))
        }
    }

    func makeIterator() -> Iterator { Iterator(block: self) }

    var underestimatedCount: Int { count }
}

extension HTTPFieldBlock: ExpressibleByDictionaryLiteral {
    init(dictionaryLiteral elements: (String, String)...) {
        self.init(HTTPHeaders(elements))
    }
}

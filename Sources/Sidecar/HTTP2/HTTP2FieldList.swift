/// A header list to send in one HEADERS frame: names (lower case) and values side by side in one
/// byte array, with where each lies. `HTTP2HeaderTranslation` writes it straight from a head's
/// bytes, and `NGHTTP2Session` points nghttp2's name-value array into it for the submit call
/// (nghttp2 copies what it keeps), so no `String` is made per field. A connection keeps one and
/// refills it for each message (`removeAll()` keeps the capacity).
struct HTTP2FieldList {
    struct Entry: Equatable {
        var nameStart: Int32
        var nameLength: Int32
        var valueStart: Int32
        var valueLength: Int32
    }

    private(set) var bytes: [UInt8] = []
    private(set) var entries: [Entry] = []

    init() {}

    /// The list of `pairs`, as given (tests and callers off the per-request path).
    init(_ pairs: [(name: String, value: String)]) {
        for (name, value) in pairs {
            var name = name
            var value = value
            name.withUTF8 { n in value.withUTF8 { v in append(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v)) } }
        }
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    /// Adds a field; with `lowercasingName`, the name's ASCII capitals are written in lower case.
    mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, lowercasingName: Bool = false) {
        let nameStart = bytes.count
        bytes.append(contentsOf: name)
        if lowercasingName {
            bytes.withUnsafeMutableBufferPointer { all in
                for index in nameStart..<(nameStart + name.count) where all[index] &- UInt8(ascii: "A") < 26 { all[index] |= 0x20 }
            }
        }
        let valueStart = bytes.count
        bytes.append(contentsOf: value)
        precondition(bytes.count < Int(Int32.max), "a header list this large is refused long before")
        entries.append(Entry(
            nameStart: Int32(truncatingIfNeeded: nameStart),
            nameLength: Int32(truncatingIfNeeded: name.count),
            valueStart: Int32(truncatingIfNeeded: valueStart),
            valueLength: Int32(truncatingIfNeeded: value.count)))
    }

    mutating func append(name: StaticString, value: StaticString) {
        append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
               value: UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    mutating func append(name: StaticString, value: String) {
        var value = value
        value.withUTF8 { append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: UnsafeRawBufferPointer($0)) }
    }
}

extension HTTP2FieldList: Sequence {
    /// The fields as `String` pairs (tests and diagnostics).
    struct Iterator: IteratorProtocol {
        fileprivate let list: HTTP2FieldList
        fileprivate var index = 0

        mutating func next() -> (name: String, value: String)? {
            guard index < list.entries.count else { return nil }
            let entry = list.entries[index]
            index += 1
            let name = list.bytes[Int(entry.nameStart)..<Int(entry.nameStart + entry.nameLength)]
            let value = list.bytes[Int(entry.valueStart)..<Int(entry.valueStart + entry.valueLength)]
            return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
    }

    func makeIterator() -> Iterator { Iterator(list: self) }

    var underestimatedCount: Int { count }
}

extension HTTP2FieldList: ExpressibleByArrayLiteral {
    init(arrayLiteral elements: (name: String, value: String)...) {
        self.init(elements)
    }
}

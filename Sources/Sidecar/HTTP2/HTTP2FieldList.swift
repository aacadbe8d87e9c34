import NIOCore

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
        /// A value new with every message (a request id, trace ids): sent as an HPACK literal
        /// that neither side adds to its dynamic table, where it would only push out entries
        /// that do repeat.
        var isUniquePerMessage = false
    }

    /// Names and values, back to back.
    private(set) var bytes = ByteBuffer()
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

    /// Storage kept between messages up to this size; a larger head's storage is let go, so one
    /// big head does not stay held by an idle connection.
    static let keptCapacity = 4096

    mutating func removeAll() {
        if bytes.capacity > Self.keptCapacity {
            bytes = ByteBuffer()
            entries = []
        } else {
            bytes.clear()
            entries.removeAll(keepingCapacity: true)
        }
    }

    /// Adds a field; with `lowercasingName`, the name's ASCII capitals are written in lower case.
    /// One sized write for name and value.
    mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, lowercasingName: Bool = false) {
        let nameStart = bytes.readableBytes
        let nameLength = name.count
        let valueLength = value.count
        _ = bytes.writeDirectly(minimumWritableBytes: nameLength + valueLength) { out in
            let base = out.baseAddress!
            if let source = name.baseAddress { base.copyMemory(from: source, byteCount: nameLength) }
            if lowercasingName {
                // Eight bytes at a time, the rest one by one.
                var index = 0
                while index + 8 <= nameLength {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    base.storeBytes(of: ASCIIWord.lowercased(word), toByteOffset: index, as: UInt64.self)
                    index += 8
                }
                while index < nameLength {
                    let byte = base.load(fromByteOffset: index, as: UInt8.self)
                    if byte &- UInt8(ascii: "A") < 26 { base.storeBytes(of: byte | 0x20, toByteOffset: index, as: UInt8.self) }
                    index += 1
                }
            }
            if let source = value.baseAddress { (base + nameLength).copyMemory(from: source, byteCount: valueLength) }
            return nameLength + valueLength
        }
        precondition(bytes.readableBytes < Int(Int32.max), "a header list this large is refused long before")
        entries.append(Entry(
            nameStart: Int32(truncatingIfNeeded: nameStart),
            nameLength: Int32(truncatingIfNeeded: nameLength),
            valueStart: Int32(truncatingIfNeeded: nameStart + nameLength),
            valueLength: Int32(truncatingIfNeeded: valueLength),
            isUniquePerMessage: Self.isUniquePerMessage(name: name)))
    }

    /// Fields whose value differs in every message: `x-request-id` and the trace ids
    /// (`traceparent`, `b3`, `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`).
    private static func isUniquePerMessage(name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 2: return name.equalsIgnoringASCIICase("b3")
        case 11: return name.equalsIgnoringASCIICase("traceparent") || name.equalsIgnoringASCIICase("x-b3-spanid")
        case 12: return name.equalsIgnoringASCIICase("x-request-id") || name.equalsIgnoringASCIICase("x-b3-traceid")
        case 17: return name.equalsIgnoringASCIICase("x-b3-parentspanid")
        default: return false
        }
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
            let start = list.bytes.readerIndex
            return (list.bytes.getString(at: start + Int(entry.nameStart), length: Int(entry.nameLength)) ?? "",
                    list.bytes.getString(at: start + Int(entry.valueStart), length: Int(entry.valueLength)) ?? "")
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

/// One received HEADERS block (request or response head, or trailers) as nghttp2 decoded it, in
/// wire order, pseudo-headers included, kept as bytes: the fields are written as HTTP/1.1 lines
/// into an `HTTPFieldBlock` as they arrive, so a request or response head is that block minus its
/// pseudo-headers (`HTTP2HeaderTranslation`), and no `String` is made per field. Bounded: once the
/// configured byte or field limit is passed, further fields are dropped and `tooLarge` is set (the
/// stream is then answered or reset), so a peer cannot make the sidecar hold more than the limit
/// per stream. Names and values are as nghttp2 passed them after its own checks (RFC 9113 field
/// syntax: no CR, LF or NUL, names in lower case).
struct HTTP2HeaderBlock: Sendable {
    private(set) var fields = HTTPFieldBlock()
    /// Bytes of names and values so far, plus 32 per field (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE accounting).
    private(set) var size = 0
    private(set) var tooLarge = false
    /// A name or value held CR, LF or NUL: the block is refused whole (its fields are dropped).
    private(set) var hasInvalidBytes = false

    init() {}

    init(_ fields: [(name: String, value: String)]) {
        for field in fields { append(name: field.name, value: field.value, maxBytes: .max, maxCount: .max) }
    }

    /// Adds a field unless it would pass a limit (then marks the block `tooLarge`).
    mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, maxBytes: Int, maxCount: Int) {
        guard !tooLarge, !hasInvalidBytes else { return }
        // nghttp2 resets a stream whose field holds CR, LF or NUL before it gets here; the block
        // checks again because its fields become HTTP/1.1 lines, where those bytes would split or
        // end a line (no trust in a codec option staying as it is).
        if HTTPFieldBlock.containsLineBreakOrNUL(name) || HTTPFieldBlock.containsLineBreakOrNUL(value) {
            hasInvalidBytes = true
            fields = HTTPFieldBlock()
            return
        }
        let added = name.count + value.count + 32
        if size + added > maxBytes || fields.count >= maxCount {
            tooLarge = true
            fields = HTTPFieldBlock()
            return
        }
        if fields.isEmpty { fields.reserveCapacity(bytes: 512, fields: 16) }
        size += added
        fields.append(name: name, value: value)
    }

    mutating func append(name: String, value: String, maxBytes: Int, maxCount: Int) {
        var name = name
        var value = value
        name.withUTF8 { n in
            value.withUTF8 { v in append(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v), maxBytes: maxBytes, maxCount: maxCount) }
        }
    }

    /// The fields, the block given up (so the caller holds the only reference to their storage).
    consuming func takeFields() -> HTTPFieldBlock {
        fields
    }

    /// The first value of a field (pseudo-headers included), by name.
    func first(_ name: String) -> String? {
        fields.first(name: name)
    }
}

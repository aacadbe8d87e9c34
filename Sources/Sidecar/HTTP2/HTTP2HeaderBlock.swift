/// One received HEADERS block (request or response head, or trailers) as nghttp2 decoded it, in
/// wire order, pseudo-headers included. Bounded: once the configured byte or field limit is
/// passed, further fields are dropped and `tooLarge` is set (the stream is then answered or reset),
/// so a peer cannot make the sidecar hold more than the limit per stream.
struct HTTP2HeaderBlock: Sendable {
    private(set) var fields: [(name: String, value: String)] = []
    /// Bytes of names and values so far, plus 32 per field (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE accounting).
    private(set) var size = 0
    private(set) var tooLarge = false

    init() {}

    init(_ fields: [(name: String, value: String)]) {
        for field in fields { append(name: field.name, value: field.value, maxBytes: .max, maxCount: .max) }
    }

    /// Adds a field unless it would pass a limit (then marks the block `tooLarge`).
    mutating func append(name: String, value: String, maxBytes: Int, maxCount: Int) {
        guard !tooLarge else { return }
        let added = name.utf8.count + value.utf8.count + 32
        if size + added > maxBytes || fields.count >= maxCount {
            tooLarge = true
            fields.removeAll()
            return
        }
        size += added
        fields.append((name, value))
    }

    /// The first value of a field (pseudo-headers included), by exact lower-case name.
    func first(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }
}

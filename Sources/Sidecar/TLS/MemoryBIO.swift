import COpenSSL

/// Helper for OpenSSL "write into a BIO" APIs (PEM encoders): runs `body` against a fresh
/// `BIO_s_mem`, copies out what it wrote and frees the BIO before returning. The BIO never
/// outlives the call.
enum MemoryBIO {
    static func collect(_ body: (OpaquePointer) -> Bool) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard body(bio) else { return nil }
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = sidecar_BIO_get_mem_data(bio, &data)
        guard length > 0, let data else { return "" }
        return data.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
            String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self)
        }
    }
}

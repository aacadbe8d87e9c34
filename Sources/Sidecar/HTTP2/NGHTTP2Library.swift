import CNGHTTP2

/// Facts about the libnghttp2 the process runs on.
enum NGHTTP2Library {
    /// e.g. `1.52.0`, as the library reports it at run time.
    static var version: String {
        guard let info = nghttp2_version(0), let text = info.pointee.version_str else { return "unknown" }
        return String(cString: text)
    }
}

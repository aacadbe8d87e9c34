import COpenSSL

/// Facts about the OpenSSL library the process runs on.
enum OpenSSLLibrary {
    /// e.g. `OpenSSL 3.0.17 1 Jul 2025`, as the library reports it at run time.
    static var version: String {
        guard let text = OpenSSL_version(OPENSSL_VERSION) else { return "unknown" }
        return String(cString: text)
    }
}

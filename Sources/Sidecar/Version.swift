/// The product version and the versions of the C libraries it runs on (`sidecar version`).
public enum SidecarVersion {
    public static let string = "0.1.0"
    public static var openSSL: String { OpenSSLLibrary.version }
    public static var nghttp2: String { NGHTTP2Library.version }
}

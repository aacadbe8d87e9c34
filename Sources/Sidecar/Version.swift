/// The product version, reported by `sidecar version` and the admin API.
public enum SidecarVersion {
    public static let string = "0.1.0"
}

/// What `MeshCertificateAuthority.initialize` wrote.
public struct MeshCAFiles: Sendable, Equatable {
    /// `DIR/ca.pem`, the root certificate (also the trust bundle for the mesh).
    public let certificatePath: String
    /// `DIR/ca-key.pem`, mode 0600.
    public let privateKeyPath: String
    public let trustDomain: String
    /// Serial number of the CA certificate, uppercase hex.
    public let serialNumberHex: String
}

import Foundation

/// What `MeshCertificateAuthority.issue` wrote.
public struct IssuedCertificateFiles: Sendable, Equatable {
    /// `DIR/NAME.pem`: leaf then the CA certificate.
    public let certificatePath: String
    /// `DIR/NAME-key.pem`, mode 0600.
    public let privateKeyPath: String
    /// `DIR/ca.pem`: the trust bundle to use with this certificate.
    public let trustBundlePath: String
    public let spiffeID: SPIFFEID
    public let serialNumberHex: String
    public let notBefore: Date
    public let notAfter: Date
}

/// One cluster's complete new endpoint list, as a discovery source delivers it.
public struct EndpointUpdate: Sendable, Equatable {
    public var cluster: String
    /// Must be greater than the cluster's current version (monotonic per cluster).
    public var version: Int
    public var endpoints: [EndpointConfig]

    public init(cluster: String, version: Int, endpoints: [EndpointConfig]) {
        self.cluster = cluster
        self.version = version
        self.endpoints = endpoints
    }
}

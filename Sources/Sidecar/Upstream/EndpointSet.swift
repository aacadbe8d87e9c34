/// An immutable, versioned list of a cluster's endpoints: what one push (or the config file) made live.
public struct EndpointSet: Sendable {
    public let version: Int
    public let endpoints: [Endpoint]

    public init(version: Int, endpoints: [Endpoint]) {
        self.version = version
        self.endpoints = endpoints
    }
}

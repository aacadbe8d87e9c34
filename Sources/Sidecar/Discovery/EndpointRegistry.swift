import NIOCore

/// The one interface between discovery sources and the data plane: a source hands over a
/// cluster's whole endpoint list; the registry validates it, swaps it in atomically for every
/// event loop (endpoints that stay keep their statistics, ejection state and pooled connections;
/// removed ones drain), and completes once the list is live everywhere.
///
/// The admin push API (`PUT /v1/clusters/{name}/endpoints`) is one source; an xDS client would
/// be another, calling the same `apply`.
protocol EndpointRegistry: Sendable {
    func apply(_ update: EndpointUpdate, on eventLoop: EventLoop) -> EventLoopFuture<EndpointSet>
}

/// Why a registry refused an update; nothing changed.
enum EndpointUpdateError: Error, Equatable {
    case unknownCluster
    /// The update's version is not greater than `current`.
    case staleVersion(current: Int)
}

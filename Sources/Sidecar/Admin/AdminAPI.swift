import Foundation
import NIOCore
import NIOHTTP1

/// The admin API's routes (CONTRACT section 3): readiness, metrics, config, clusters, endpoint
/// push and drain. Control plane only: it may allocate and wait freely.
struct AdminAPI: Sendable {
    let runtime: SidecarRuntime

    func handle(_ request: AdminRequest, on eventLoop: EventLoop) -> EventLoopFuture<AdminResponse> {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let segments = path.split(separator: "/").map(String.init)
        let method = request.method
        if segments == ["ready"], method == .GET {
            if runtime.isReady { return eventLoop.makeSucceededFuture(.text(.ok, "ready\n")) }
            return eventLoop.makeSucceededFuture(.text(.serviceUnavailable, runtime.isDraining ? "draining\n" : "starting\n"))
        }
        if segments == ["metrics"], method == .GET {
            return runtime.metricsText(on: eventLoop).map { bytes in
                AdminResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: ByteBuffer(bytes: bytes))
            }
        }
        if segments == ["v1", "config"], method == .GET {
            return eventLoop.makeSucceededFuture(.json(.ok, runtime.configJSON()))
        }
        if segments == ["v1", "clusters"], method == .GET {
            return clustersJSON(on: eventLoop)
        }
        if segments.count == 4, segments[0] == "v1", segments[1] == "clusters", segments[3] == "endpoints", method == .PUT {
            return pushEndpoints(cluster: segments[2], body: request.body, on: eventLoop)
        }
        if segments == ["v1", "drain"], method == .POST {
            runtime.drain()
            return eventLoop.makeSucceededFuture(.text(.ok, "draining\n"))
        }
        let known = [["ready"], ["metrics"], ["v1", "config"], ["v1", "clusters"], ["v1", "drain"]]
        if known.contains(segments) || (segments.count == 4 && segments[0] == "v1" && segments[1] == "clusters" && segments[3] == "endpoints") {
            return eventLoop.makeSucceededFuture(.text(.methodNotAllowed, "method not allowed\n"))
        }
        return eventLoop.makeSucceededFuture(.text(.notFound, "not found\n"))
    }

    private func clustersJSON(on eventLoop: EventLoop) -> EventLoopFuture<AdminResponse> {
        var clusters: [[String: Any]] = []
        for cluster in runtime.clusterManager.publicClusters {
            let set = cluster.endpointSet
            let negotiates = cluster.config.protocol == .auto
            let endpoints: [[String: Any]] = set.endpoints.map { endpoint in
                [
                    "address": endpoint.address.description,
                    // The HTTP version requests to it use; for `protocol: auto`, what it picked by
                    // ALPN (null until a connection has asked).
                    "protocol": negotiates ? endpoint.negotiatedProtocolName.map { $0 as Any } ?? NSNull() : cluster.config.protocol.rawValue,
                    // Whether it is another sidecar (ALPN `sidecar/h2`); null until an HTTP/2
                    // connection over TLS has asked (HTTP/1.1 connections do not ask).
                    "sidecar": endpoint.isSidecar.map { $0 as Any } ?? NSNull(),
                    "weight": endpoint.weight,
                    "state": endpoint.stateName,
                    "activeRequests": endpoint.activeRequests.load(ordering: .relaxed),
                    "totalRequests": endpoint.totalRequests.load(ordering: .relaxed),
                    "latencyMs": endpoint.latencyEstimateMilliseconds,
                    "ejections": endpoint.ejectionCount.load(ordering: .relaxed),
                ]
            }
            clusters.append([
                "name": cluster.name,
                "version": set.version,
                "policy": cluster.config.loadBalancing.policy.rawValue,
                "protocol": cluster.config.protocol.rawValue,
                "circuitBreaker": [
                    "connections": cluster.circuitBreaker.current(.connections),
                    "pendingRequests": cluster.circuitBreaker.current(.pendingRequests),
                    "requests": cluster.circuitBreaker.current(.requests),
                    "retries": cluster.circuitBreaker.current(.retries),
                ],
                "endpoints": endpoints,
            ])
        }
        return eventLoop.makeSucceededFuture(.json(.ok, Self.encode(["clusters": clusters])))
    }

    private func pushEndpoints(cluster name: String, body: ByteBuffer, on eventLoop: EventLoop) -> EventLoopFuture<AdminResponse> {
        guard runtime.clusterManager.cluster(named: name) != nil else {
            return eventLoop.makeSucceededFuture(.json(.notFound, Self.encode(["error": "no cluster named \"\(name)\""])))
        }
        let push: EndpointPush
        switch EndpointPush.parse(Array(body.readableBytesView)) {
        case .success(let value): push = value
        case .failure(let error):
            return eventLoop.makeSucceededFuture(.json(.badRequest, Self.encode(["error": error.message])))
        }
        let update = EndpointUpdate(cluster: name, version: push.version, endpoints: push.endpoints)
        return runtime.clusterManager.apply(update, on: eventLoop).map { set in
            runtime.controlMetrics.endpointPushes.increment()
            return AdminResponse.json(.ok, Self.encode(["cluster": name, "version": set.version, "endpoints": set.endpoints.count]))
        }.flatMapErrorThrowing { error in
            switch error as? EndpointUpdateError {
            case .staleVersion(let current):
                return .json(.conflict, Self.encode(["error": "version \(push.version) is not greater than the current version \(current)", "currentVersion": current]))
            case .unknownCluster:
                return .json(.notFound, Self.encode(["error": "no cluster named \"\(name)\""]))
            case nil:
                throw error
            }
        }
    }

    static func encode(_ object: Any) -> [UInt8] {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return Array("{}".utf8) }
        return Array(data)
    }
}

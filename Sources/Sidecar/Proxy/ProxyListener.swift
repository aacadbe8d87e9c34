import NIOCore
import NIOHTTP1
import NIOPosix

/// Binds one listener (inbound or outbound) and sets up each accepted connection's pipeline on
/// the event loop that accepted it, with that loop's `WorkerContext`.
enum ProxyListener {
    static func bind(
        _ listener: ListenerContext,
        address: SocketAddressSpec,
        group: EventLoopGroup,
        workers: [WorkerContextBox]
    ) async throws -> Channel {
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
        } catch {
            throw StartupError("cannot resolve \(listener.direction.rawValue) listener \"\(listener.name)\" address \(address): \(error)")
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let worker = workers.first(where: { $0.context.eventLoop === channel.eventLoop })?.context else {
                        throw StartupError("no worker for event loop")
                    }
                    try DownstreamPipeline.configure(channel: channel, worker: worker, listener: listener)
                }
            }
        do {
            return try await bootstrap.bind(to: socketAddress).get()
        } catch {
            throw StartupError("cannot bind \(listener.direction.rawValue) listener \"\(listener.name)\" on \(address): \(describe(error))")
        }
    }

    /// The HTTP/1.1 server pipeline: one handler that parses requests (bounded by the listener's
    /// limits), frames responses and orders pipelined requests.
    static func configureHTTP1(channel: Channel, worker: WorkerContext, listener: ListenerContext, peerIdentity: String?) throws {
        let handler = HTTP1DownstreamHandler(worker: worker, listener: listener, connections: worker.connections)
        handler.peer = peerIdentity.map { DownstreamPeer(identity: $0, listener: listener) }
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// The HTTP/2 server pipeline: one handler that owns the nghttp2 session and its streams.
    /// `peerIsSidecar`: the caller picked `sidecar/h2` by ALPN (see `MeshALPN`).
    static func configureHTTP2(channel: Channel, worker: WorkerContext, listener: ListenerContext, peerIdentity: String?, peerIsSidecar: Bool = false) throws {
        let handler = HTTP2DownstreamHandler(
            worker: worker, listener: listener, connections: worker.connections, peerIdentity: peerIdentity, peerIsSidecar: peerIsSidecar)
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    static func describe(_ error: Error) -> String {
        if let io = error as? IOError {
            switch io.errnoCode {
            case 98: return "address already in use"
            case 99: return "address not available"
            case 13: return "permission denied"
            default: return io.description
            }
        }
        return String(describing: error)
    }
}

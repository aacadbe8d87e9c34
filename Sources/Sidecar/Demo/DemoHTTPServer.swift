import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP/1.1 server on a free 127.0.0.1 port for the demo's in-process parts (the apps
/// and the trace collector): `makeHandler` builds each connection's request handler.
final class DemoHTTPServer: Sendable {
    private let channel = NIOLockedValueBox<Channel?>(nil)

    /// Binds and returns the port.
    func start(group: EventLoopGroup, makeHandler: @escaping @Sendable () -> ChannelHandler) async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.channel.withLockedValue { $0 = channel }
        return channel.localAddress?.port ?? 0
    }

    func stop() async {
        let channel = self.channel.withLockedValue { channel in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
    }
}

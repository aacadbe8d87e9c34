import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The demo's tiny control plane: it owns the `payments` endpoint list and pushes each new
/// version to the frontend sidecar with `PUT /v1/clusters/payments/endpoints` (CONTRACT section 3).
/// During the run it adds the third replica, then shifts weight towards the healthy one.
final class DemoControlPlane: Sendable {
    struct Endpoint: Sendable {
        var name: String
        var port: Int
        var weight: Int
    }

    /// One push, as shown in the output.
    struct Event: Sendable {
        var at: TimeAmount
        var text: String
    }

    private let eventLoop: EventLoop
    private let client: SimpleHTTPClient
    private let state = NIOLockedValueBox<(version: Int, events: [Event])>((0, []))

    init(eventLoop: EventLoop, adminPort: Int) throws {
        self.eventLoop = eventLoop
        client = SimpleHTTPClient(
            eventLoop: eventLoop, address: try SocketAddress(ipAddress: "127.0.0.1", port: adminPort),
            hostHeader: "127.0.0.1:\(adminPort)")
    }

    var events: [Event] {
        state.withLockedValue { $0.events }
    }

    var pushes: Int {
        state.withLockedValue { $0.version }
    }

    /// Pushes `endpoints` as the next version; records the outcome as an event.
    func push(_ endpoints: [Endpoint], note: String, at offset: TimeAmount) async {
        let version = state.withLockedValue { $0.version + 1 }
        let list = endpoints.map { "{\"address\":\"127.0.0.1:\($0.port)\",\"weight\":\($0.weight)}" }.joined(separator: ",")
        let body = ByteBuffer(string: "{\"version\":\(version),\"endpoints\":[\(list)]}")
        let headers: HTTPHeaders = ["content-type": "application/json"]
        let client = self.client
        let text: String
        do {
            let response = try await eventLoop.flatSubmit {
                client.execute(method: .PUT, path: "/v1/clusters/payments/endpoints", headers: headers, body: body, timeout: .seconds(3))
            }.get()
            let described = endpoints.map { $0.weight == 1 ? $0.name : "\($0.name)×\($0.weight)" }.joined(separator: ", ")
            if response.status == 200 {
                state.withLockedValue { $0.version = version }
                text = "control plane: PUT /v1/clusters/payments/endpoints v\(version) [\(described)] → 200 (\(note))"
            } else {
                text = "control plane: push v\(version) refused: \(response.status) \(String(buffer: response.body))"
            }
        } catch {
            text = "control plane: push v\(version) failed: \(error)"
        }
        state.withLockedValue { $0.events.append(Event(at: offset, text: text)) }
    }

    func close() async {
        let client = self.client
        try? await eventLoop.submit { client.close() }.get()
    }
}

import Foundation
import NIOCore

/// Reads one demo sidecar's admin API: `/ready`, `/v1/clusters` and `/metrics`.
final class DemoAdminClient: Sendable {
    struct EndpointView: Sendable {
        var address: String
        var weight: Int
        var state: String
        var totalRequests: Int
        var latencyMs: Double
        var ejections: Int
    }

    struct ClusterView: Sendable {
        var version: Int
        var policy: String
        var endpoints: [EndpointView]
    }

    private let eventLoop: EventLoop
    private let client: SimpleHTTPClient

    init(eventLoop: EventLoop, port: Int) throws {
        self.eventLoop = eventLoop
        client = SimpleHTTPClient(
            eventLoop: eventLoop, address: try SocketAddress(ipAddress: "127.0.0.1", port: port),
            hostHeader: "127.0.0.1:\(port)", maxResponseBody: 4 * 1024 * 1024)
    }

    private func get(_ path: String) async -> SimpleHTTPClient.Response? {
        let client = self.client
        return try? await eventLoop.flatSubmit {
            client.execute(method: .GET, path: path, timeout: .seconds(2))
        }.get()
    }

    func isReady() async -> Bool {
        await get("/ready")?.status == 200
    }

    /// `GET /v1/clusters` by cluster name; nil when the sidecar did not answer.
    func clusters() async -> [String: ClusterView]? {
        guard let response = await get("/v1/clusters"), response.status == 200,
            let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
            let clusters = object["clusters"] as? [[String: Any]]
        else { return nil }
        var views: [String: ClusterView] = [:]
        for cluster in clusters {
            guard let name = cluster["name"] as? String else { continue }
            let endpoints = (cluster["endpoints"] as? [[String: Any]] ?? []).map { endpoint in
                EndpointView(
                    address: endpoint["address"] as? String ?? "?",
                    weight: (endpoint["weight"] as? NSNumber)?.intValue ?? 0,
                    state: endpoint["state"] as? String ?? "?",
                    totalRequests: (endpoint["totalRequests"] as? NSNumber)?.intValue ?? 0,
                    latencyMs: (endpoint["latencyMs"] as? NSNumber)?.doubleValue ?? 0,
                    ejections: (endpoint["ejections"] as? NSNumber)?.intValue ?? 0)
            }
            views[name] = ClusterView(
                version: (cluster["version"] as? NSNumber)?.intValue ?? 0,
                policy: cluster["policy"] as? String ?? "?",
                endpoints: endpoints)
        }
        return views
    }

    /// `GET /metrics` as text; nil when the sidecar did not answer.
    func metrics() async -> String? {
        guard let response = await get("/metrics"), response.status == 200 else { return nil }
        return String(buffer: response.body)
    }

    func close() async {
        let client = self.client
        try? await eventLoop.submit { client.close() }.get()
    }

    /// The sum of every sample of `name` whose labels include all of `labels`, and the per-value
    /// sums of `groupBy` when given.
    static func sum(_ text: String, name: String, labels: [String: String] = [:], groupBy: String? = nil) -> (total: Double, groups: [String: Double]) {
        var total = 0.0
        var groups: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            guard line.hasPrefix(name), !line.hasPrefix("#") else { continue }
            let rest = line.dropFirst(name.count)
            guard let first = rest.first, first == "{" || first == " " else { continue }
            var sampleLabels: [String: String] = [:]
            var valueText = rest
            if first == "{", let close = rest.firstIndex(of: "}") {
                for pair in rest[rest.index(after: rest.startIndex)..<close].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { sampleLabels[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                }
                valueText = rest[rest.index(after: close)...]
            }
            guard labels.allSatisfy({ sampleLabels[$0.key] == $0.value }),
                let value = Double(valueText.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
            else { continue }
            total += value
            if let groupBy, let group = sampleLabels[groupBy] { groups[group, default: 0] += value }
        }
        return (total, groups)
    }
}

import Foundation

/// The body of `PUT /v1/clusters/{name}/endpoints`, validated whole before anything changes:
/// `{"version": 7, "endpoints": [{"address": "10.0.0.1:8080", "weight": 1}]}`.
struct EndpointPush: Equatable {
    var version: Int
    var endpoints: [EndpointConfig]

    struct Problem: Error, Equatable {
        var message: String
    }

    static let maxEndpoints = 10_000

    static func parse(_ bytes: [UInt8]) -> Result<EndpointPush, Problem> {
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes))
        } catch let problem as Problem {
            return .failure(problem)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            return .failure(Problem(message: "\(path(context.codingPath)): expected \(expected(context.codingPath))"))
        } catch let DecodingError.keyNotFound(key, context) {
            return .failure(Problem(message: "\(path(context.codingPath + [key])): required"))
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            return .failure(Problem(message: "\(path(context.codingPath)): expected \(expected(context.codingPath))"))
        } catch {
            return .failure(Problem(message: "body is not a valid JSON object"))
        }
        guard body.version >= 0 else { return .failure(Problem(message: "version: expected a non-negative integer")) }
        guard body.endpoints.count <= maxEndpoints else {
            return .failure(Problem(message: "endpoints: at most \(maxEndpoints) endpoints"))
        }
        var endpoints: [EndpointConfig] = []
        var seen: Set<SocketAddressSpec> = []
        for (index, entry) in body.endpoints.enumerated() {
            guard let address = parseAddress(entry.address), address.port > 0 else {
                return .failure(Problem(message: "endpoints[\(index)].address: expected an address like \"10.0.0.1:8080\""))
            }
            let weight = entry.weight ?? 1
            guard (1...1000).contains(weight) else {
                return .failure(Problem(message: "endpoints[\(index)].weight: expected an integer from 1 to 1000"))
            }
            guard seen.insert(address).inserted else {
                return .failure(Problem(message: "endpoints[\(index)].address: duplicate address \(address)"))
            }
            endpoints.append(EndpointConfig(address: address, weight: weight))
        }
        return .success(EndpointPush(version: body.version, endpoints: endpoints))
    }

    /// `host:port` or `[v6]:port` with an IP literal host.
    static func parseAddress(_ text: String) -> SocketAddressSpec? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let port = Int(portText), (0...65535).contains(port) else {
            return nil
        }
        return SocketAddressSpec(host: String(host), port: port)
    }

    private static func path(_ codingPath: [CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return result.isEmpty ? "body" : result
    }

    private static func expected(_ codingPath: [CodingKey]) -> String {
        switch codingPath.last?.stringValue {
        case "version": return "a non-negative integer"
        case "weight": return "an integer from 1 to 1000"
        case "address": return "an address like \"10.0.0.1:8080\""
        case "endpoints": return "a list"
        default: return codingPath.last?.intValue != nil ? "an object" : "a value of another type"
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct Body: Decodable {
        var version: Int
        var endpoints: [Entry]

        init(from decoder: Decoder) throws {
            let keys = try decoder.container(keyedBy: AnyKey.self)
            for key in keys.allKeys where key.stringValue != "version" && key.stringValue != "endpoints" {
                throw Problem(message: "\(key.stringValue): unknown key")
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            version = try container.decode(Int.self, forKey: .version)
            endpoints = try container.decode([Entry].self, forKey: .endpoints)
        }

        enum CodingKeys: String, CodingKey { case version, endpoints }
    }

    private struct Entry: Decodable {
        var address: String
        var weight: Int?

        init(from decoder: Decoder) throws {
            let keys = try decoder.container(keyedBy: AnyKey.self)
            for key in keys.allKeys where key.stringValue != "address" && key.stringValue != "weight" {
                throw Problem(message: "endpoints[].\(key.stringValue): unknown key")
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            address = try container.decode(String.self, forKey: .address)
            weight = try container.decodeIfPresent(Int.self, forKey: .weight)
        }

        enum CodingKeys: String, CodingKey { case address, weight }
    }
}

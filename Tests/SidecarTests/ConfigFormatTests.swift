import Foundation
import NIOCore
import XCTest
@testable import Sidecar

final class ConfigFormatTests: XCTestCase {
    func testDurationParsing() {
        XCTAssertEqual(ConfigDuration.parse("250ms"), .milliseconds(250))
        XCTAssertEqual(ConfigDuration.parse("1s"), .seconds(1))
        XCTAssertEqual(ConfigDuration.parse("2m"), .minutes(2))
        XCTAssertEqual(ConfigDuration.parse("1h"), .hours(1))
        XCTAssertEqual(ConfigDuration.parse("0s"), .zero)
        XCTAssertEqual(ConfigDuration.parse("1m30s"), .seconds(90))
        XCTAssertEqual(ConfigDuration.parse("1.5s"), .milliseconds(1500))
        XCTAssertEqual(ConfigDuration.parse("10us"), .microseconds(10))
        XCTAssertEqual(ConfigDuration.parse("10µs"), .microseconds(10))
        XCTAssertEqual(ConfigDuration.parse("7ns"), .nanoseconds(7))
        for bad in ["", "25", "s", "-1s", "1 s", "1.s", ".s", "1sec", "1S", "1.0000000001s", "99999999999h", "1s-"] {
            XCTAssertNil(ConfigDuration.parse(bad), bad)
        }
    }

    func testDurationFormatting() {
        XCTAssertEqual(ConfigDuration.format(.milliseconds(250)), "250ms")
        XCTAssertEqual(ConfigDuration.format(.seconds(1)), "1s")
        XCTAssertEqual(ConfigDuration.format(.seconds(300)), "5m")
        XCTAssertEqual(ConfigDuration.format(.seconds(3600)), "1h")
        XCTAssertEqual(ConfigDuration.format(.seconds(90)), "90s")
        XCTAssertEqual(ConfigDuration.format(.milliseconds(1500)), "1500ms")
        XCTAssertEqual(ConfigDuration.format(.zero), "0s")
        XCTAssertEqual(ConfigDuration.format(.microseconds(3)), "3us")
        XCTAssertEqual(ConfigDuration.format(.nanoseconds(1_000_001)), "1000001ns")
        XCTAssertEqual(ConfigDuration.format(.seconds(-2)), "-2s")
        for amount in [TimeAmount.nanoseconds(17), .milliseconds(25), .seconds(59), .minutes(61), .hours(1000)] {
            XCTAssertEqual(ConfigDuration.parse(ConfigDuration.format(amount)), amount)
        }
    }

    func testSizes() {
        XCTAssertEqual(ConfigSize.parse("64KiB"), 65536)
        XCTAssertEqual(ConfigSize.parse("1MiB"), 1 << 20)
        XCTAssertEqual(ConfigSize.parse("1GiB"), 1 << 30)
        XCTAssertEqual(ConfigSize.parse("512B"), 512)
        XCTAssertEqual(ConfigSize.parse("4096"), 4096)
        for bad in ["", "KiB", "64kib", "64KB", "1.5MiB", "-1", "1 MiB", "99999999999999999GiB"] {
            XCTAssertNil(ConfigSize.parse(bad), bad)
        }
        XCTAssertEqual(try SidecarConfig.parse(yaml: "service: s\noutbound: [{listen: 127.0.0.1:1}]\nlimits: {maxUriBytes: 2048}")
            .limits.maxUriBytes, 2048)
    }

    func testAddresses() {
        XCTAssertEqual(SocketAddressSpec.parse("127.0.0.1:8080"), SocketAddressSpec(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(SocketAddressSpec.parse("[::1]:0"), SocketAddressSpec(host: "::1", port: 0))
        XCTAssertEqual(SocketAddressSpec.parse("payments.svc:65535"), SocketAddressSpec(host: "payments.svc", port: 65535))
        XCTAssertEqual(SocketAddressSpec.parse("[::1]:80")?.description, "[::1]:80")
        for bad in ["", "127.0.0.1", ":80", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:80", "[::1]80",
                    "[x]:80", "[::1:80", "a b:80", "127.0.0.1:8o", "127.0.0.1:000080"] {
            XCTAssertNil(SocketAddressSpec.parse(bad), bad)
        }
        XCTAssertTrue(SocketAddressSpec(host: "127.0.0.9", port: 1).isLoopback)
        XCTAssertTrue(SocketAddressSpec(host: "::1", port: 1).isLoopback)
        XCTAssertTrue(SocketAddressSpec(host: "localhost", port: 1).isLoopback)
        XCTAssertFalse(SocketAddressSpec(host: "0.0.0.0", port: 1).isLoopback)
        XCTAssertFalse(SocketAddressSpec(host: "127.example", port: 1).isLoopback)
    }

    func testProblemAndErrorDescriptions() {
        XCTAssertEqual(ConfigProblem(path: "a.b", message: "bad").description, "a.b: bad")
        XCTAssertEqual(ConfigProblem(path: "", message: "bad").description, "bad")
        XCTAssertEqual(ConfigError(problems: [ConfigProblem(path: "a", message: "x"), ConfigProblem(path: "b", message: "y")])
            .description, "a: x\nb: y")
    }

    func testJSONRenderingRoundTripsKeyNames() throws {
        let config = try SidecarConfig.load(path: ConfigTestSupport.examplePath("full.yaml"))
        let json = config.jsonString()
        // The rendering parses back (JSON is YAML) to the same config: every key name is a YAML key.
        XCTAssertEqual(try SidecarConfig.parse(yaml: json), config)

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(config.jsonData())) as? [String: Any])
        XCTAssertEqual(Set(object.keys), Set(ConfigParser.topKeys))
        let cluster = try XCTUnwrap((object["clusters"] as? [[String: Any]])?.first)
        let retries = try XCTUnwrap(cluster["retries"] as? [String: Any])
        XCTAssertEqual((retries["backoff"] as? [String: Any])?["base"] as? String, "25ms")
        XCTAssertEqual((retries["backoff"] as? [String: Any])?["max"] as? String, "250ms")
        XCTAssertEqual(retries["maxBufferedBody"] as? Int, 65536)
        XCTAssertEqual((cluster["timeouts"] as? [String: Any])?["perTry"] as? String, "0s")
        XCTAssertEqual((cluster["loadBalancing"] as? [String: Any])?["hashOn"] as? [String: String], ["header": "x-user-id"])
        XCTAssertEqual((object["identity"] as? [String: Any])?["privateKey"] as? String, "certs/orders-key.pem")
        XCTAssertEqual((object["admin"] as? [String: Any])?["listen"] as? String, "127.0.0.1:15000")
        XCTAssertEqual(object["drainTimeout"] as? String, "10s")
        XCTAssertEqual((object["accessLog"] as? [String: Any])?["path"] as? String, "stdout")
        XCTAssertTrue(json.contains("\"endpoint\" : \"http://127.0.0.1:4318/v1/traces\""), json)

        // Sections that are off render as null and also parse back.
        let minimal = try SidecarConfig.load(path: ConfigTestSupport.examplePath("minimal.yaml"))
        let minimalObject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(minimal.jsonData())) as? [String: Any])
        XCTAssertTrue(minimalObject["tracing"] is NSNull)
        XCTAssertTrue(minimalObject["identity"] is NSNull)
        XCTAssertEqual(try SidecarConfig.parse(yaml: minimal.jsonString()), minimal)
    }

    func testJSONRenderingOfOtherValues() throws {
        var config = SidecarConfig(service: "s")
        config.accessLog.path = .file("/tmp/access.log")
        config.admin.listen = SocketAddressSpec(host: "::1", port: 15000)
        config.drainTimeout = .milliseconds(1500)
        var tracing = TracingConfig()
        tracing.sampleRate = 0.1
        config.tracing = tracing
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(config.jsonData())) as? [String: Any])
        XCTAssertEqual((object["accessLog"] as? [String: Any])?["path"] as? String, "/tmp/access.log")
        XCTAssertEqual((object["admin"] as? [String: Any])?["listen"] as? String, "[::1]:15000")
        XCTAssertEqual(object["drainTimeout"] as? String, "1500ms")
        XCTAssertTrue((object["tracing"] as? [String: Any])?["otlp"] is NSNull)
        XCTAssertEqual((object["tracing"] as? [String: Any])?["sampleRate"] as? Double, 0.1)
    }
}

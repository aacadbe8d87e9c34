import NIOHTTP1
import XCTest
@testable import Sidecar

final class TraceContextParserTests: XCTestCase {
    private let traceHex = "4bf92f3577b34da6a3ce929d0e0e4736"
    private let parentHex = "00f067aa0ba902b7"
    private var traceID: TraceID { TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736) }

    private func extract(_ headers: [(String, String)], formats: [PropagationFormat] = [.tracecontext, .b3]) -> TraceContext? {
        TraceContextParser.extract(from: HTTPFieldBlock(headers), formats: formats)
    }

    // MARK: W3C traceparent

    func testValidTraceParent() {
        let sampled = TraceContextParser.parseTraceParent("00-\(traceHex)-\(parentHex)-01")
        XCTAssertEqual(sampled?.traceID, traceID)
        XCTAssertEqual(sampled?.parentSpanID, 0x00f0_67aa_0ba9_02b7)
        XCTAssertEqual(sampled?.sampled, true)
        XCTAssertEqual(sampled?.source, .traceContext)
        XCTAssertEqual(TraceContextParser.parseTraceParent("00-\(traceHex)-\(parentHex)-00")?.sampled, false)
        // Other flag bits are ignored; only bit 0 means sampled.
        XCTAssertEqual(TraceContextParser.parseTraceParent("00-\(traceHex)-\(parentHex)-03")?.sampled, true)
        XCTAssertEqual(TraceContextParser.parseTraceParent("00-\(traceHex)-\(parentHex)-02")?.sampled, false)
        // Optional whitespace around the value.
        XCTAssertNotNil(TraceContextParser.parseTraceParent(" 00-\(traceHex)-\(parentHex)-01\t"))
    }

    func testInvalidTraceParentIsIgnored() {
        let invalid = [
            "",
            "00-\(traceHex)-\(parentHex)",                              // no flags
            "00-00000000000000000000000000000000-\(parentHex)-01",      // zero trace id
            "00-\(traceHex)-0000000000000000-01",                       // zero parent id
            "00-\(traceHex.uppercased())-\(parentHex)-01",              // uppercase
            "00-\(traceHex)-\(parentHex)-01-extra",                     // version 00 must be exactly 55 chars
            "ff-\(traceHex)-\(parentHex)-01",                           // version ff is invalid
            "0g-\(traceHex)-\(parentHex)-01",                           // not hex
            "00_\(traceHex)-\(parentHex)-01",                           // separator
            "00-\(traceHex)x\(parentHex)-01",
            "00-\(traceHex.dropLast())-\(parentHex)-01",                // short trace id
            "00-\(traceHex)-\(parentHex)-0x",                           // bad flags
            "01-\(traceHex)-\(parentHex)-01x",                          // future version: extra part must start with "-"
        ]
        for value in invalid {
            XCTAssertNil(TraceContextParser.parseTraceParent(value), value)
            XCTAssertNil(extract([("traceparent", value)]), value)
        }
    }

    func testFutureVersionIsReadWithTheVersion00Layout() {
        let context = TraceContextParser.parseTraceParent("01-\(traceHex)-\(parentHex)-01-what-the-future-holds")
        XCTAssertEqual(context?.traceID, traceID)
        XCTAssertEqual(context?.sampled, true)
        XCTAssertNotNil(TraceContextParser.parseTraceParent("cc-\(traceHex)-\(parentHex)-00"))
    }

    func testTraceStateIsKeptAsIsAndBounded() {
        let context = extract([("traceparent", "00-\(traceHex)-\(parentHex)-01"), ("tracestate", "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE")])
        XCTAssertEqual(context?.traceState, "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE")
        // Several lines are one list.
        let joined = extract([("traceparent", "00-\(traceHex)-\(parentHex)-01"), ("tracestate", "a=1"), ("tracestate", "b=2")])
        XCTAssertEqual(joined?.traceState, "a=1,b=2")
        let long = String(repeating: "k=v,", count: 200)
        XCTAssertNil(extract([("traceparent", "00-\(traceHex)-\(parentHex)-01"), ("tracestate", long)])?.traceState)
        XCTAssertNotNil(extract([("traceparent", "00-\(traceHex)-\(parentHex)-01"), ("tracestate", long)]))
    }

    // MARK: B3 single

    func testB3Single() {
        let full = TraceContextParser.parseB3Single("\(traceHex)-\(parentHex)-1-05e3ac9a4f6e3b90")
        XCTAssertEqual(full?.traceID, traceID)
        XCTAssertEqual(full?.parentSpanID, 0x00f0_67aa_0ba9_02b7)
        XCTAssertEqual(full?.sampled, true)
        XCTAssertEqual(full?.source, .b3Single)

        let short = TraceContextParser.parseB3Single("a3ce929d0e0e4736-\(parentHex)")
        XCTAssertEqual(short?.traceID, TraceID(high: 0, low: 0xa3ce_929d_0e0e_4736))
        XCTAssertNil(short?.sampled, "no sampling state: deferred to the sampler")

        XCTAssertEqual(TraceContextParser.parseB3Single("\(traceHex)-\(parentHex)-0")?.sampled, false)
        let debug = TraceContextParser.parseB3Single("\(traceHex)-\(parentHex)-d")
        XCTAssertEqual(debug?.sampled, true)
        XCTAssertEqual(debug?.debug, true)
        // B3 tolerates uppercase hex.
        XCTAssertEqual(TraceContextParser.parseB3Single("\(traceHex.uppercased())-\(parentHex)-1")?.traceID, traceID)
    }

    func testB3SingleSamplingOnly() {
        let deny = TraceContextParser.parseB3Single("0")
        XCTAssertNil(deny?.traceID)
        XCTAssertEqual(deny?.sampled, false)
        XCTAssertEqual(TraceContextParser.parseB3Single("1")?.sampled, true)
        XCTAssertEqual(TraceContextParser.parseB3Single("d")?.debug, true)
    }

    func testInvalidB3SingleIsIgnored() {
        let invalid = [
            "", "2", "x", "true",
            "\(traceHex)",                                        // trace id alone
            "\(traceHex)-\(parentHex.dropLast())-1",              // 15-digit span id
            "\(traceHex.dropLast(2))-\(parentHex)-1",             // 30-digit trace id
            "00000000000000000000000000000000-\(parentHex)-1",    // zero trace id
            "\(traceHex)-0000000000000000-1",                     // zero span id
            "\(traceHex)-\(parentHex)-2",                         // bad sampling state
            "\(traceHex)-\(parentHex)-1-xyz",                     // bad parent
            "\(traceHex)-\(parentHex)-1-\(parentHex)-extra",      // too many fields
            "\(traceHex)-zzzzzzzzzzzzzzzz-1",
        ]
        for value in invalid {
            XCTAssertNil(TraceContextParser.parseB3Single(value), value)
        }
    }

    // MARK: B3 multi

    func testB3Multi() {
        let context = extract([("X-B3-TraceId", traceHex), ("X-B3-SpanId", parentHex), ("X-B3-ParentSpanId", "05e3ac9a4f6e3b90"), ("X-B3-Sampled", "1")])
        XCTAssertEqual(context?.traceID, traceID)
        XCTAssertEqual(context?.parentSpanID, 0x00f0_67aa_0ba9_02b7)
        XCTAssertEqual(context?.sampled, true)
        XCTAssertEqual(context?.source, .b3Multi)
        XCTAssertEqual(extract([("x-b3-traceid", traceHex), ("x-b3-spanid", parentHex), ("x-b3-sampled", "0")])?.sampled, false)
        XCTAssertEqual(extract([("x-b3-traceid", traceHex), ("x-b3-spanid", parentHex), ("x-b3-sampled", "true")])?.sampled, true)
        XCTAssertNil(extract([("x-b3-traceid", traceHex), ("x-b3-spanid", parentHex)])?.sampled)
        let debug = extract([("x-b3-traceid", traceHex), ("x-b3-spanid", parentHex), ("x-b3-flags", "1")])
        XCTAssertEqual(debug?.debug, true)
        XCTAssertEqual(debug?.sampled, true)
    }

    func testB3MultiSamplingOnlyAndInvalid() {
        let deny = extract([("X-B3-Sampled", "0")])
        XCTAssertNil(deny?.traceID)
        XCTAssertEqual(deny?.sampled, false)
        XCTAssertNil(extract([("X-B3-TraceId", traceHex)]), "a trace id without a span id")
        XCTAssertNil(extract([("X-B3-TraceId", traceHex), ("X-B3-SpanId", "123")]))
        XCTAssertNil(extract([("X-B3-TraceId", traceHex), ("X-B3-SpanId", parentHex), ("X-B3-Sampled", "maybe")]))
        XCTAssertNil(extract([("X-B3-TraceId", "0000000000000000"), ("X-B3-SpanId", parentHex)]))
    }

    // MARK: Format selection

    func testOnlyConfiguredFormatsAreReadInOrder() {
        let headers = [("traceparent", "00-\(traceHex)-\(parentHex)-01"), ("b3", "a3ce929d0e0e4736-05e3ac9a4f6e3b90-0")]
        XCTAssertEqual(extract(headers)?.source, .traceContext)
        XCTAssertEqual(extract(headers, formats: [.b3, .tracecontext])?.source, .b3Single)
        XCTAssertEqual(extract(headers, formats: [.b3])?.sampled, false)
        XCTAssertNil(extract([("b3", "a3ce929d0e0e4736-05e3ac9a4f6e3b90-0")], formats: [.tracecontext]))
        // An invalid first format falls through to the next valid one.
        XCTAssertEqual(extract([("traceparent", "garbage"), ("b3", "a3ce929d0e0e4736-05e3ac9a4f6e3b90-1")])?.source, .b3Single)
        // The single b3 header wins over the multi ones.
        XCTAssertEqual(extract([("b3", "a3ce929d0e0e4736-05e3ac9a4f6e3b90-1"), ("X-B3-TraceId", traceHex), ("X-B3-SpanId", parentHex)], formats: [.b3])?.source, .b3Single)
        XCTAssertNil(extract([]))
    }
}

import NIOHTTP1

/// Reads the incoming trace context from request headers: W3C `traceparent`/`tracestate` and
/// B3 (single `b3` header, or multi `X-B3-*`). Only the formats listed in
/// `tracing.propagation` are read, in that order; the first valid one wins (for B3 the single
/// header before the multi ones). An invalid header is ignored, never an error: the request then
/// starts a new trace.
enum TraceContextParser {
    /// `tracestate` longer than this is dropped (the W3C limit for propagation is 512).
    static let maxTraceStateLength = 512

    static func extract(from headers: HTTPFieldBlock, formats: [PropagationFormat]) -> TraceContext? {
        for format in formats {
            switch format {
            case .tracecontext:
                if let value = headers.first(name: "traceparent"), var context = parseTraceParent(value) {
                    context.traceState = traceState(headers)
                    return context
                }
            case .b3:
                if let value = headers.first(name: "b3"), let context = parseB3Single(value) {
                    return context
                }
                if let context = parseB3Multi(headers) {
                    return context
                }
            }
        }
        return nil
    }

    /// The `tracestate` to pass on: every `tracestate` line joined with commas, nil when absent,
    /// empty or over `maxTraceStateLength`.
    static func traceState(_ headers: HTTPFieldBlock) -> String? {
        var result: String?
        for (name, value) in headers where name.utf8.count == 10 && name.lowercased() == "tracestate" {
            let trimmed = value.trimmingOWS()
            guard !trimmed.isEmpty else { continue }
            if result == nil {
                result = String(trimmed)
            } else {
                result! += ","
                result! += trimmed
            }
        }
        guard let result, result.utf8.count <= maxTraceStateLength else { return nil }
        return result
    }

    // MARK: - W3C trace context

    /// Parses `traceparent` (W3C Trace Context level 1): `00-<32 hex>-<16 hex>-<2 hex>`, lowercase,
    /// neither id all zeros. A higher version is read by the version-00 layout when the value is
    /// at least as long and any extra part starts with `-`; version `ff` is invalid.
    static func parseTraceParent(_ value: String) -> TraceContext? {
        var text = String(value.trimmingOWS())
        return text.withUTF8 { bytes -> TraceContext? in
            guard bytes.count >= 55 else { return nil }
            guard let version = TraceHex.parse(bytes[0..<2], lowercaseOnly: true), version != 0xFF else { return nil }
            if version == 0, bytes.count != 55 { return nil }
            if bytes.count > 55, bytes[55] != UInt8(ascii: "-") { return nil }
            let dash = UInt8(ascii: "-")
            guard bytes[2] == dash, bytes[35] == dash, bytes[52] == dash else { return nil }
            guard let traceID = TraceHex.parseTraceID(bytes[3..<35], lowercaseOnly: true), traceID.isValid,
                  let parent = TraceHex.parse(bytes[36..<52], lowercaseOnly: true), parent != 0,
                  let flags = TraceHex.parse(bytes[53..<55], lowercaseOnly: true)
            else { return nil }
            return TraceContext(traceID: traceID, parentSpanID: parent, sampled: flags & 1 == 1, source: .traceContext)
        }
    }

    // MARK: - B3

    /// Parses the single `b3` header: `{traceid}-{spanid}[-{sampled}[-{parentspanid}]]` or a lone
    /// sampling state (`0` deny, `1` accept, `d` debug).
    static func parseB3Single(_ value: String) -> TraceContext? {
        var text = String(value.trimmingOWS())
        return text.withUTF8 { bytes -> TraceContext? in
            var fields: [Range<Int>] = []
            fields.reserveCapacity(4)
            var start = 0
            for index in 0...bytes.count {
                if index == bytes.count || bytes[index] == UInt8(ascii: "-") {
                    fields.append(start..<index)
                    start = index + 1
                    if fields.count > 4 { return nil }
                }
            }
            if fields.count == 1 {
                // Sampling state only.
                guard let state = samplingState(bytes[fields[0]]) else { return nil }
                return TraceContext(traceID: nil, parentSpanID: nil, sampled: state.sampled, debug: state.debug, source: .b3Single)
            }
            guard let traceID = TraceHex.parseTraceID(bytes[fields[0]], lowercaseOnly: false), traceID.isValid,
                  fields[1].count == 16, let spanID = TraceHex.parse(bytes[fields[1]], lowercaseOnly: false), spanID != 0
            else { return nil }
            var sampled: Bool?
            var debug = false
            if fields.count >= 3 {
                guard let state = samplingState(bytes[fields[2]]) else { return nil }
                sampled = state.sampled
                debug = state.debug
            }
            if fields.count == 4 {
                guard fields[3].count == 16, TraceHex.parse(bytes[fields[3]], lowercaseOnly: false) != nil else { return nil }
            }
            return TraceContext(traceID: traceID, parentSpanID: spanID, sampled: sampled, debug: debug, source: .b3Single)
        }
    }

    private static func samplingState(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> (sampled: Bool, debug: Bool)? {
        guard bytes.count == 1 else { return nil }
        switch bytes[bytes.startIndex] {
        case UInt8(ascii: "0"): return (false, false)
        case UInt8(ascii: "1"): return (true, false)
        case UInt8(ascii: "d"): return (true, true)
        default: return nil
        }
    }

    /// Parses `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` (`1`/`0`, also `true`/`false`),
    /// `X-B3-Flags` (`1` = debug). `X-B3-Sampled` or `X-B3-Flags` without ids is a sampling
    /// decision for a new trace. Nil when no B3 header is present or any present one is invalid.
    static func parseB3Multi(_ headers: HTTPFieldBlock) -> TraceContext? {
        let traceIDText = headers.first(name: "x-b3-traceid")
        let spanIDText = headers.first(name: "x-b3-spanid")
        let sampledText = headers.first(name: "x-b3-sampled")
        let flagsText = headers.first(name: "x-b3-flags")
        guard traceIDText != nil || spanIDText != nil || sampledText != nil || flagsText != nil else { return nil }

        var sampled: Bool?
        var debug = false
        if let flagsText {
            switch flagsText.trimmingOWS() {
            case "1": debug = true; sampled = true
            case "0": break
            default: return nil
            }
        }
        if let sampledText, !debug {
            switch sampledText.trimmingOWS().lowercased() {
            case "1", "true": sampled = true
            case "0", "false": sampled = false
            default: return nil
            }
        }
        guard traceIDText != nil || spanIDText != nil else {
            return TraceContext(traceID: nil, parentSpanID: nil, sampled: sampled, debug: debug, source: .b3Multi)
        }
        guard let traceIDText, let spanIDText else { return nil }
        let spanUTF8 = spanIDText.trimmingOWS().utf8
        guard let traceID = TraceHex.parseTraceID(traceIDText.trimmingOWS().utf8, lowercaseOnly: false), traceID.isValid,
              spanUTF8.count == 16, let spanID = TraceHex.parse(spanUTF8, lowercaseOnly: false), spanID != 0
        else { return nil }
        return TraceContext(traceID: traceID, parentSpanID: spanID, sampled: sampled, debug: debug, source: .b3Multi)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP optional whitespace).
    func trimmingOWS() -> Substring {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}

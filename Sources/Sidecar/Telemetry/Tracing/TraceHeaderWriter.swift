import NIOHTTP1

/// Writes the outgoing trace context into a request's headers, for every format listed in
/// `tracing.propagation`: the headers of those formats are replaced, those of other formats are
/// left as they came (the sidecar does not translate between formats it was not asked to write).
///
/// - `tracecontext`: `traceparent: 00-{trace}-{span}-{01|00}`; `tracestate` passed on unchanged
///   when the context came from a valid `traceparent`, removed otherwise.
/// - `b3`: the single header `b3: {trace}-{span}-{1|0|d}` (a 64-bit incoming trace id keeps its
///   16-digit form); the multi headers `X-B3-*` are rewritten too when the request carried them,
///   so a next hop reading either form sees the same context.
enum TraceHeaderWriter {
    /// What the next hop should see.
    struct Outgoing {
        var traceID: TraceID
        /// The span the next hop's span is a child of.
        var spanID: UInt64
        /// That span's own parent (for `X-B3-ParentSpanId`), 0 when it is a root span.
        var parentSpanID: UInt64
        var sampled: Bool
        var debug: Bool
        var traceState: String?
    }

    static func write(_ outgoing: Outgoing, formats: [PropagationFormat], rewriteB3Multi: Bool, into headers: inout HTTPFieldBlock) {
        for format in formats {
            switch format {
            case .tracecontext:
                headers.replaceOrAdd(name: "traceparent", value: traceParent(outgoing))
                if let state = outgoing.traceState {
                    headers.replaceOrAdd(name: "tracestate", value: state)
                } else {
                    headers.remove(name: "tracestate")
                }
            case .b3:
                headers.replaceOrAdd(name: "b3", value: b3Single(outgoing))
                if rewriteB3Multi {
                    headers.replaceOrAdd(name: "X-B3-TraceId", value: b3TraceID(outgoing.traceID))
                    headers.replaceOrAdd(name: "X-B3-SpanId", value: TraceHex.string(outgoing.spanID))
                    if outgoing.parentSpanID != 0 {
                        headers.replaceOrAdd(name: "X-B3-ParentSpanId", value: TraceHex.string(outgoing.parentSpanID))
                    } else {
                        headers.remove(name: "X-B3-ParentSpanId")
                    }
                    if outgoing.debug {
                        headers.replaceOrAdd(name: "X-B3-Flags", value: "1")
                        headers.remove(name: "X-B3-Sampled")
                    } else {
                        headers.remove(name: "X-B3-Flags")
                        headers.replaceOrAdd(name: "X-B3-Sampled", value: outgoing.sampled ? "1" : "0")
                    }
                }
            }
        }
    }

    /// `00-{32 hex trace id}-{16 hex span id}-{flags}`.
    static func traceParent(_ outgoing: Outgoing) -> String {
        String(unsafeUninitializedCapacity: 55) { out in
            out[0] = UInt8(ascii: "0")
            out[1] = UInt8(ascii: "0")
            out[2] = UInt8(ascii: "-")
            TraceHex.write(outgoing.traceID.high, into: out, at: 3)
            TraceHex.write(outgoing.traceID.low, into: out, at: 19)
            out[35] = UInt8(ascii: "-")
            TraceHex.write(outgoing.spanID, into: out, at: 36)
            out[52] = UInt8(ascii: "-")
            out[53] = UInt8(ascii: "0")
            out[54] = outgoing.sampled ? UInt8(ascii: "1") : UInt8(ascii: "0")
            return 55
        }
    }

    /// `{trace id}-{span id}-{1|0|d}`.
    static func b3Single(_ outgoing: Outgoing) -> String {
        let short = outgoing.traceID.high == 0
        let length = (short ? 16 : 32) + 1 + 16 + 2
        return String(unsafeUninitializedCapacity: length) { out in
            var index = 0
            if !short {
                TraceHex.write(outgoing.traceID.high, into: out, at: 0)
                index = 16
            }
            TraceHex.write(outgoing.traceID.low, into: out, at: index)
            index += 16
            out[index] = UInt8(ascii: "-")
            TraceHex.write(outgoing.spanID, into: out, at: index + 1)
            index += 17
            out[index] = UInt8(ascii: "-")
            out[index + 1] = outgoing.debug ? UInt8(ascii: "d") : (outgoing.sampled ? UInt8(ascii: "1") : UInt8(ascii: "0"))
            return index + 2
        }
    }

    private static func b3TraceID(_ id: TraceID) -> String {
        id.high == 0 ? TraceHex.string(id.low) : id.hex
    }
}

import Foundation

/// Picks one trace the demo's collector received and draws it as a tree of spans with timings:
/// the frontend app's call (the traffic driver's own root span), the frontend sidecar's CLIENT
/// span per attempt, and each inbound sidecar's SERVER span.
struct DemoTraceTree {
    typealias Span = DemoOTLPReceiver.Span

    /// Names the sidecar that recorded `span`: the inbound sidecar by its listener port
    /// (`server.port` of a SERVER span), otherwise the service.
    let sidecarName: (Span) -> String
    /// Names an upstream endpoint (`server.port` of a CLIENT span).
    let endpointName: (Int) -> String?

    /// Trace id → spans.
    static func group(_ spans: [Span]) -> [String: [Span]] {
        Dictionary(grouping: spans, by: \.traceID)
    }

    /// Traces with spans from at least two sidecars.
    func multiSidecarTraces(_ traces: [String: [Span]]) -> [String] {
        traces.filter { Set($0.value.map(sidecarName)).count >= 2 }.map(\.key)
    }

    /// The most telling trace: crosses two sidecars; a retried one first; then one whose app
    /// call is known; then the one with the most spans.
    func pick(_ traces: [String: [Span]], hasRoot: (String) -> Bool) -> String? {
        multiSidecarTraces(traces).max { a, b in
            score(traces[a]!, hasRoot(a)) < score(traces[b]!, hasRoot(b))
        }
    }

    private func score(_ spans: [Span], _ hasRoot: Bool) -> (Int, Int, Int, Int) {
        let retried = spans.contains { !$0.isServer && (Int($0.attributes["http.request.resend_count"] ?? "0") ?? 0) > 0 }
        let reachedFailure = spans.contains { $0.isServer && $0.attributes["http.response.status_code"] == "503" }
        return (retried ? 1 : 0, reachedFailure ? 1 : 0, hasRoot ? 1 : 0, spans.count)
    }

    /// The tree as lines. `root` is the app's call when known (its span id is the parent of the
    /// frontend sidecar's CLIENT spans).
    func render(traceID: String, spans: [Span], root: DemoTrafficDriver.RootCall?) -> [String] {
        let byParent = Dictionary(grouping: spans, by: \.parentSpanID)
        let ids = Set(spans.map(\.spanID))
        let origin = min(root?.startUnixNanos ?? UInt64.max, spans.map(\.startNanos).min() ?? 0)
        let end = max(root.map { $0.startUnixNanos + UInt64(max(0, $0.durationNanos)) } ?? 0, spans.map(\.endNanos).max() ?? 0)
        let total = Double(max(1, end &- origin))
        var lines: [String] = []

        func row(_ label: String, start: UInt64, finish: UInt64, status: String) -> String {
            let width = 24
            let from = Int((Double(start &- origin) / total * Double(width)).rounded(.down))
            let length = max(1, Int((Double(finish &- start) / total * Double(width)).rounded()))
            let bar = String(repeating: " ", count: min(from, width - 1)) + String(repeating: "▇", count: min(length, width - min(from, width - 1)))
            let timing = String(format: "+%6.1f ms %7.1f ms", Double(start &- origin) / 1e6, Double(finish &- start) / 1e6)
            let padded = bar.count >= width ? String(bar.prefix(width)) : bar + String(repeating: " ", count: width - bar.count)
            return DemoDashboard.pad(label, 64) + "|" + padded + "| " + timing + "  " + status
        }

        func describe(_ span: Span) -> String {
            let method = span.attributes["http.request.method"] ?? ""
            if span.isServer {
                return "\(sidecarName(span)) sidecar  SERVER \(method) \(span.attributes["url.path"] ?? span.name)"
            }
            let port = Int(span.attributes["server.port"] ?? "") ?? 0
            let target = endpointName(port) ?? "\(span.attributes["server.address"] ?? "?"):\(port)"
            let attempt = (Int(span.attributes["http.request.resend_count"] ?? "0") ?? 0) + 1
            return "\(sidecarName(span)) sidecar  CLIENT \(method) → \(target) (attempt \(attempt))"
        }

        func status(_ span: Span) -> String {
            var text = span.attributes["http.response.status_code"] ?? "–"
            if let flag = span.attributes["sidecar.error"] { text += " \(flag)" }
            if let identity = span.attributes["sidecar.peer.identity"] { text += "  mTLS peer \(identity.split(separator: "/").last ?? "")" }
            return text
        }

        func walk(_ span: Span, prefix: String, last: Bool) {
            let branch = prefix + (last ? "└─ " : "├─ ")
            lines.append(row(branch + describe(span), start: span.startNanos, finish: span.endNanos, status: status(span)))
            let children = (byParent[span.spanID] ?? []).sorted { $0.startNanos < $1.startNanos }
            for (index, child) in children.enumerated() {
                walk(child, prefix: prefix + (last ? "   " : "│  "), last: index == children.count - 1)
            }
        }

        lines.append("sample trace \(traceID) (\(spans.count) spans from \(Set(spans.map(sidecarName)).count) sidecars):")
        // Top level: spans whose parent is not in this trace's received spans.
        let tops = spans.filter { !ids.contains($0.parentSpanID) }.sorted { $0.startNanos < $1.startNanos }
        if let root {
            lines.append(row("frontend app  \(root.method) \(root.path)",
                             start: root.startUnixNanos, finish: root.startUnixNanos + UInt64(max(0, root.durationNanos)),
                             status: String(root.status)))
            for (index, span) in tops.enumerated() { walk(span, prefix: "", last: index == tops.count - 1) }
        } else {
            for (index, span) in tops.enumerated() { walk(span, prefix: "", last: index == tops.count - 1) }
        }
        return lines
    }
}

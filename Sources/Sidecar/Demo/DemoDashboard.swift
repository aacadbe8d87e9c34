import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Renders the demo's live view. On a terminal a block of lines is redrawn in place once a second
/// (ANSI cursor-up and clear-line); otherwise one plain line per second, easy to read in a log.
/// Used by one task at a time (the live view's loop, then the final report after it ended).
final class DemoDashboard: @unchecked Sendable {
    let interactive: Bool
    private var drawnLines = 0
    private var printedEvents = 0

    init(interactive: Bool = isatty(STDOUT_FILENO) == 1) {
        self.interactive = interactive
    }

    static func percent(_ value: Double?) -> String {
        guard let value else { return "–" }
        return String(format: "%.1f%%", value * 100)
    }

    static func millis(_ value: Double?) -> String {
        guard let value else { return "–" }
        return value < 10 ? String(format: "%.1f ms", value) : String(format: "%.0f ms", value)
    }

    /// Writes `text` (lines) at once and flushes.
    static func emit(_ text: String) {
        var out = text
        if !out.hasSuffix("\n") { out += "\n" }
        out.utf8.withContiguousStorageIfAvailable { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }

    /// Shows one snapshot, and any control-plane events not shown yet.
    func show(_ snapshot: DemoSnapshot, events: [DemoControlPlane.Event]) {
        let newEvents = events.dropFirst(printedEvents).map { "  [\(Self.clock($0.at))] \($0.text)" }
        printedEvents = events.count
        if interactive {
            let block = lines(snapshot)
            var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)F" : ""
            // Events scroll above the block: they are drawn where the block was, then the block below.
            for line in newEvents + block { out += "\u{1B}[2K" + line + "\n" }
            Self.emit(out)
            drawnLines = block.count
        } else {
            Self.emit((newEvents + [plainLine(snapshot)]).joined(separator: "\n"))
        }
    }

    static func clock(_ amount: TimeAmount) -> String {
        String(format: "%5.1fs", Double(amount.nanoseconds) / 1e9)
    }

    /// The live block.
    func lines(_ s: DemoSnapshot) -> [String] {
        var lines: [String] = []
        lines.append(String(format: "── sidecar demo ─ %.0fs / %.0fs ", s.elapsedSeconds, s.durationSeconds)
                     + "─ frontend → payments ×\(s.replicas.count) (HTTP/1.1) + ledger (HTTP/2), all mTLS ──")
        let p50 = DemoTrafficDriver.quantile(s.window.latenciesMs, 0.5)
        let p99 = DemoTrafficDriver.quantile(s.window.latenciesMs, 0.99)
        lines.append("  traffic    " + String(format: "%5.0f", s.requestsPerSecond) + " req/s   success \(Self.percent(s.windowSuccess))"
                     + " (whole run: \(Self.percent(s.totalSuccess)) of \(s.totalRequests) calls)   p50 \(Self.millis(p50))   p99 \(Self.millis(p99))")
        lines.append("  flaky      payments-2's own failure rate \(Self.percent(s.flakyFailureRate)) (\(s.flakyFailures) × 503 of \(s.flakyRequests))"
                     + "  →  the frontend sees \(Self.percent(s.totalSuccess)) success")
        let reasons = s.retriesByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("  resilience retries \(s.retries)\(reasons.isEmpty ? "" : " (\(reasons))")   budget exhausted \(s.budgetExhausted)   outlier ejections \(s.ejections)")
        lines.append("  payments   cluster v\(s.clusterVersion), \(s.policy) — the frontend sidecar's view (GET /v1/clusters):")
        for replica in s.replicas {
            let share = replica.share.map { String(format: "%3.0f%%", $0 * 100) } ?? "   –"
            let bar = String(repeating: "█", count: Int(((replica.share ?? 0) * 20).rounded())) + String(repeating: "·", count: 20 - Int(((replica.share ?? 0) * 20).rounded()))
            lines.append("    " + Self.pad(replica.name, 11) + Self.pad(replica.address, 16) + Self.pad(replica.state, 12)
                         + "w\(replica.weight)  share \(share) " + Self.pad(bar, 21) + Self.pad("\(replica.attempts) tries", 12)
                         + Self.pad(replica.latencyMs > 0 ? "~" + Self.millis(replica.latencyMs) : "", 10) + " \(replica.note)")
        }
        lines.append("  ledger     \(s.window.ledgerOK)/\(s.window.ledgerRequests) calls ok (HTTP/2 over mTLS from the frontend sidecar to ledger's)")
        lines.append("  traces     \(s.spansReceived) spans received by the demo's OTLP collector")
        return lines
    }

    /// One line per second when stdout is not a terminal.
    func plainLine(_ s: DemoSnapshot) -> String {
        let p50 = DemoTrafficDriver.quantile(s.window.latenciesMs, 0.5)
        let p99 = DemoTrafficDriver.quantile(s.window.latenciesMs, 0.99)
        let endpoints = s.replicas.map { r in
            "\(r.name):\(r.state.replacingOccurrences(of: " ", with: "_")):\(r.share.map { String(format: "%.0f%%", $0 * 100) } ?? "-")"
        }.joined(separator: ",")
        let compact = { (text: String) in text.replacingOccurrences(of: " ", with: "") }
        return String(format: "t=%.0fs rps=%.0f", s.elapsedSeconds, s.requestsPerSecond)
            + " success=\(Self.percent(s.windowSuccess)) total_success=\(Self.percent(s.totalSuccess))"
            + " p50=\(compact(Self.millis(p50))) p99=\(compact(Self.millis(p99)))"
            + " flaky_failure_rate=\(Self.percent(s.flakyFailureRate)) retries=\(s.retries) budget_exhausted=\(s.budgetExhausted)"
            + " ejections=\(s.ejections) payments=v\(s.clusterVersion)[\(endpoints)]"
            + " ledger_ok=\(s.window.ledgerOK)/\(s.window.ledgerRequests) spans=\(s.spansReceived)"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

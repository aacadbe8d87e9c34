import CoreMetrics
import Prometheus

/// Metrics of the control plane (identity reloads, endpoint pushes, trace export), through
/// swift-metrics with swift-prometheus as the backend. These change rarely, so their atomic
/// counters are fine; the data path uses `LoopMetrics` instead.
final class ControlPlaneMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let identityReloads: CoreMetrics.Counter
    let identityReloadFailures: CoreMetrics.Counter
    let endpointPushes: CoreMetrics.Counter
    let spansDropped: CoreMetrics.Counter
    let spansExported: CoreMetrics.Counter
    let accessLogDroppedBatches: CoreMetrics.Counter

    init() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.registry = registry
        identityReloads = CoreMetrics.Counter(label: "sidecar_identity_reloads_total", dimensions: [("result", "success")], factory: factory)
        identityReloadFailures = CoreMetrics.Counter(label: "sidecar_identity_reloads_total", dimensions: [("result", "failure")], factory: factory)
        endpointPushes = CoreMetrics.Counter(label: "sidecar_endpoint_pushes_total", factory: factory)
        spansDropped = CoreMetrics.Counter(label: "sidecar_trace_spans_dropped_total", factory: factory)
        spansExported = CoreMetrics.Counter(label: "sidecar_trace_spans_exported_total", factory: factory)
        accessLogDroppedBatches = CoreMetrics.Counter(label: "sidecar_access_log_dropped_batches_total", factory: factory)
    }
}

import NIOCore

/// What the access log says about one request: filled in by the exchange as the request goes.
struct AccessLogRecord {
    var direction: TrafficDirection
    var listener: String
    var method: String
    var path: String
    var requestID: String
    var peerIdentity: String?
    var cluster: String?
    var status = 0
    var flags: [String] = []
    var duration: TimeAmount = .zero
    var upstreamAddress: String?
    var bytesReceived = 0
    var bytesSent = 0
    var attempts = 0
    var retries = 0
    /// Set when tracing is configured: the request's trace and the span the log line names (the
    /// SERVER span inbound, the last CLIENT span outbound; 0 = none).
    var traceID: TraceID?
    var spanID: UInt64 = 0

    init(direction: TrafficDirection, listener: String, method: String, path: String, requestID: String, peerIdentity: String?) {
        self.direction = direction
        self.listener = listener
        self.method = method
        self.path = path
        self.requestID = requestID
        self.peerIdentity = peerIdentity
    }
}

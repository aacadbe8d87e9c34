import NIOHTTP1

/// A response head as the proxy core passes it from an upstream (or the sidecar's own answer) to
/// the downstream: the status and the fields, kept in the bytes the upstream sent. The HTTP
/// version is each side's own business.
struct ProxyResponseHead: Equatable {
    var status: HTTPResponseStatus
    var fields: HTTPFieldBlock

    init(status: HTTPResponseStatus, fields: HTTPFieldBlock = HTTPFieldBlock()) {
        self.status = status
        self.fields = fields
    }

    init(status: HTTPResponseStatus, headers: HTTPHeaders) {
        self.init(status: status, fields: HTTPFieldBlock(headers))
    }
}

import NIOCore
import NIOHTTP1

/// A response the sidecar makes itself: the flag's status and a short text body with
/// `x-sidecar-error`, or for gRPC callers an HTTP 200 trailers-only response with `grpc-status`.
struct LocalResponse {
    let head: ProxyResponseHead
    let body: ByteBuffer

    init(flag: ProxyErrorFlag, grpc: Bool, requestID: String?) {
        var fields = HTTPFieldBlock()
        fields.append(name: "x-sidecar-error", value: flag.rawValue)
        if let requestID { fields.append(name: "x-request-id", value: requestID) }
        if grpc {
            fields.append(name: "content-type", value: "application/grpc")
            fields.append(name: "grpc-status", value: String(flag.grpcStatus))
            fields.append(name: "grpc-message", value: flag.message)
            fields.append(name: "content-length", value: "0")
            head = ProxyResponseHead(status: .ok, fields: fields)
            body = ByteBuffer()
        } else {
            var text = ByteBuffer()
            text.writeString(flag.rawValue)
            text.writeString(": ")
            text.writeString(flag.message)
            text.writeString("\n")
            fields.append(name: "content-type", value: "text/plain")
            fields.append(name: "content-length", value: String(text.readableBytes))
            head = ProxyResponseHead(status: flag.status, fields: fields)
            body = text
        }
    }
}

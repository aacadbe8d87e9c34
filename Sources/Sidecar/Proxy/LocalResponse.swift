import NIOCore
import NIOHTTP1

/// A response the sidecar makes itself: the flag's status and a short text body with
/// `x-sidecar-error`, or for gRPC callers an HTTP 200 trailers-only response with `grpc-status`.
struct LocalResponse {
    let head: HTTPResponseHead
    let body: ByteBuffer

    init(flag: ProxyErrorFlag, grpc: Bool, requestID: String?) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(6)
        headers.add(name: "x-sidecar-error", value: flag.rawValue)
        if let requestID { headers.add(name: "x-request-id", value: requestID) }
        if grpc {
            headers.add(name: "content-type", value: "application/grpc")
            headers.add(name: "grpc-status", value: String(flag.grpcStatus))
            headers.add(name: "grpc-message", value: flag.message)
            headers.add(name: "content-length", value: "0")
            head = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
            body = ByteBuffer()
        } else {
            var text = ByteBuffer()
            text.writeString(flag.rawValue)
            text.writeString(": ")
            text.writeString(flag.message)
            text.writeString("\n")
            headers.add(name: "content-type", value: "text/plain")
            headers.add(name: "content-length", value: String(text.readableBytes))
            head = HTTPResponseHead(version: .http1_1, status: flag.status, headers: headers)
            body = text
        }
    }
}

"""HTTP/2 and gRPC through the sidecar, with real clients and servers: curl (h2c prior knowledge
and h2 over mTLS by ALPN), h2load through a two-sidecar mTLS h2 mesh, grpcio unary and
server-streaming calls (metadata, trailers, retries on grpc-status, deadlines), and floods with
the `h2` library (rapid reset, empty DATA) that cost the offender its connection only."""

import http.client
import json
import re
import socket
import ssl
import subprocess
import threading
import time
from concurrent import futures

import grpc
import h2.config
import h2.connection
import h2.events
import h2.errors
import pytest
from hpack import Decoder
from hyperframe.frame import Frame, GoAwayFrame, HeadersFrame

from certs import Mesh
from harness import (
    HTTPBackend, RawBackend, Sidecar, basic_config, metric, parse_response_head, raw_exchange, read_http_request, scrape, wait_until,
)


@pytest.fixture(scope="module")
def mesh():
    return Mesh(names=("orders", "payments"))


def curl(args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Two sidecars: `orders` (outbound, h2c/HTTP/1.1 in) → mTLS cluster → `payments` (inbound) → app


def mesh_pair(mesh, start_sidecar, app_address, cluster_protocol="http2", inbound_protocol="auto", retries=None, timeouts=None):
    server = start_sidecar(
        {
            "service": "payments",
            "identity": mesh.identity("payments"),
            "admin": {"listen": "127.0.0.1:0"},
            "inbound": [
                {"name": "public", "listen": "127.0.0.1:0", "tls": "mutual", "forwardTo": app_address, "protocol": inbound_protocol}
            ],
        }
    )
    cluster = {
        "name": "payments",
        "protocol": cluster_protocol,
        "tls": {"mode": "mutual", "serverName": "payments"},
        "endpoints": [{"address": f"127.0.0.1:{server.inbound_port()}"}],
    }
    if retries is not None:
        cluster["retries"] = retries
    if timeouts is not None:
        cluster["timeouts"] = timeouts
    client = start_sidecar(
        {
            "service": "orders",
            "identity": mesh.identity("orders"),
            "admin": {"listen": "127.0.0.1:0"},
            "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "payments"}]}],
            "clusters": [cluster],
        }
    )
    return client, server


# ---------------------------------------------------------------------------------------------
# HTTP


def test_h2c_prior_knowledge_to_http1_backend(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    port = sidecar.outbound_port()
    result = curl(["-v", "--http2-prior-knowledge", "-H", "x-custom: 1", f"http://127.0.0.1:{port}/h2c?q=1"])
    assert result.returncode == 0, result.stderr
    assert "< HTTP/2 200" in result.stderr
    echo = json.loads(result.stdout)
    assert echo["path"] == "/h2c?q=1"
    assert echo["headers"]["host"] == f"127.0.0.1:{port}"  # :authority became Host
    assert echo["headers"]["x-custom"] == "1"
    assert echo["headers"]["x-sidecar-attempt"] == "1"
    # A request body (DATA frames) arrives whole; HTTP/1.1 still works on the same port.
    body = b"x" * 200_000
    result = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--http2-prior-knowledge", "--data-binary", "@-", f"http://127.0.0.1:{port}/upload"],
        input=body, capture_output=True, timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["body_len"] == len(body)
    result = curl(["-v", "--http1.1", f"http://127.0.0.1:{port}/h1"])
    assert "< HTTP/1.1 200" in result.stderr
    assert json.loads(result.stdout)["path"] == "/h1"


def test_h2c_connection_headers_from_http1_backend_are_stripped(start_sidecar):
    def handler(request):
        return 200, {"Connection": "keep-alive, x-hop", "Keep-Alive": "timeout=5", "X-Hop": "1", "X-End": "2"}, b"ok"

    backend = HTTPBackend(handler)
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        result = curl(["-v", "--http2-prior-knowledge", f"http://127.0.0.1:{sidecar.outbound_port()}/"])
        assert result.returncode == 0, result.stderr
        headers = result.stderr.lower()
        assert "< x-end: 2" in headers
        assert "< connection:" not in headers and "< keep-alive:" not in headers and "< x-hop:" not in headers
        assert result.stdout == "ok"
    finally:
        backend.close()


def test_h2_over_mtls_alpn_to_inbound(mesh, backend, start_sidecar):
    sidecar = start_sidecar(
        {
            "service": "payments",
            "identity": mesh.identity("payments"),
            "admin": {"listen": "127.0.0.1:0"},
            "inbound": [{"name": "public", "listen": "127.0.0.1:0", "tls": "mutual", "forwardTo": backend.address, "protocol": "http1"}],
        }
    )
    port = sidecar.inbound_port()
    result = curl(
        [
            "-v", "--http2", "--cacert", mesh.ca, "--cert", mesh.cert("orders"), "--key", mesh.key("orders"),
            "--resolve", f"payments:{port}:127.0.0.1", f"https://payments:{port}/secure",
        ]
    )
    assert result.returncode == 0, result.stderr
    assert "ALPN: server accepted h2" in result.stderr or "ALPN, server accepted to use h2" in result.stderr
    assert "< HTTP/2 200" in result.stderr
    echo = json.loads(result.stdout)
    assert echo["headers"]["x-forwarded-client-cert"] == f"By={mesh.spiffe('payments')};URI={mesh.spiffe('orders')}"
    # HTTP/1.1 clients are still served on the same listener.
    result = curl(
        [
            "-v", "--http1.1", "--cacert", mesh.ca, "--cert", mesh.cert("orders"), "--key", mesh.key("orders"),
            "--resolve", f"payments:{port}:127.0.0.1", f"https://payments:{port}/secure1",
        ]
    )
    assert "< HTTP/1.1 200" in result.stderr


def test_auto_inbound_serves_h2_caller_from_http1_only_app(mesh, backend, start_sidecar):
    """`protocol: auto` tries HTTP/2 towards the app for an HTTP/2 caller; an app that answers the
    preface with something else is then called over HTTP/1.1 (the first request included, body
    and all), and remembered as HTTP/1.1-only."""
    sidecar = start_sidecar(
        {
            "service": "payments",
            "identity": mesh.identity("payments"),
            "admin": {"listen": "127.0.0.1:0"},
            "inbound": [{"name": "public", "listen": "127.0.0.1:0", "tls": "mutual", "forwardTo": backend.address}],
        }
    )
    port = sidecar.inbound_port()
    for index in range(3):
        result = subprocess.run(
            [
                "curl", "-sS", "-v", "--max-time", "10", "--http2", "--cacert", mesh.ca, "--cert", mesh.cert("orders"),
                "--key", mesh.key("orders"), "--resolve", f"payments:{port}:127.0.0.1", "--data-binary", "@-",
                f"https://payments:{port}/auto{index}",
            ],
            input=b"b" * 1000, capture_output=True, timeout=20,
        )
        assert result.returncode == 0, result.stderr
        assert b"< HTTP/2 200" in result.stderr
        echo = json.loads(result.stdout)
        assert echo["body_len"] == 1000
        assert echo["headers"]["x-sidecar-attempt"] == "1"


def test_h2load_through_h2_mtls_mesh(mesh, backend, start_sidecar):
    client, server = mesh_pair(mesh, start_sidecar, backend.address, cluster_protocol="http2", inbound_protocol="http1")
    result = subprocess.run(
        ["h2load", "-n", "5000", "-c", "4", "-m", "8", f"http://127.0.0.1:{client.outbound_port()}/load"],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"requests: 5000 total, 5000 started, 5000 done, 5000 succeeded, 0 failed, 0 errored", result.stdout), result.stdout
    assert "status codes: 5000 2xx" in result.stdout, result.stdout
    # Multiplexed: a handful of mesh connections carried 5000 requests.
    samples = scrape(server)
    assert metric(samples, "sidecar_tls_handshakes_total", direction="inbound", result="success") <= 8
    assert len(backend.requests) == 5000


def test_http1_caller_through_h2_mesh_gets_trailers_as_chunked(mesh, start_sidecar):
    """HTTP/1.1 in, HTTP/2 across the mesh, HTTP/1.1 to the app: a chunked request with trailers
    arrives whole, and the response comes back intact."""
    backend = HTTPBackend()
    try:
        client, _ = mesh_pair(mesh, start_sidecar, backend.address, inbound_protocol="http1")
        sock = socket.create_connection(("127.0.0.1", client.outbound_port()), timeout=10)
        sock.sendall(
            b"POST /chunks HTTP/1.1\r\nHost: payments\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 11\r\n\r\n"
        )
        data = b""
        sock.settimeout(10)
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        while len(rest) < length:
            rest += sock.recv(65536)
        sock.close()
        assert json.loads(rest)["body_len"] == 11
    finally:
        backend.close()


def echo_handler(gate=None):
    """The default echo, with requests to `/held...` kept until `gate` is set."""

    def handler(request):
        if gate is not None and request["path"].startswith("/held"):
            gate.wait(10)
        body = json.dumps({"path": request["path"], "headers": request["headers"], "body_len": len(request["body"])})
        return 200, {"content-type": "application/json"}, body.encode()

    return handler


def http1_post(port, path, body, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("POST", path, body=body, headers={"Host": "payments", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_auto_cluster_multiplexes_the_mesh_hop_and_the_app_still_gets_http1(mesh, start_sidecar):
    """`protocol: auto` towards another sidecar: the inbound picks `h2` by ALPN, so concurrent
    HTTP/1.1 callers share one mTLS connection per event loop instead of one each; the inbound's
    `auto` app is called in the caller's protocol (HTTP/1.1 from the first request, no HTTP/2
    preface tried on it) and never sees `x-sidecar-orig-proto`."""
    gate = threading.Event()
    backend = HTTPBackend(echo_handler(gate))
    try:
        client, server = mesh_pair(mesh, start_sidecar, backend.address, cluster_protocol="auto", inbound_protocol="auto")
        port = client.outbound_port()
        cluster = client.admin_json("GET", "/v1/clusters")[1]["clusters"][0]
        assert cluster["protocol"] == "auto" and cluster["endpoints"][0]["protocol"] is None  # nothing asked yet
        # A caller's own x-sidecar-orig-proto is not passed on.
        status, body = http1_post(port, "/first", b"a" * 1000, {"x-sidecar-orig-proto": "HTTP/2"})
        assert status == 200, body
        echo = json.loads(body)
        assert echo["body_len"] == 1000 and echo["headers"]["x-sidecar-attempt"] == "1"
        assert "x-sidecar-orig-proto" not in echo["headers"]
        # The app was called over HTTP/1.1 straight away: one connection, no preface probe.
        assert backend.connections == 1

        with futures.ThreadPoolExecutor(12) as pool:
            calls = [pool.submit(http1_post, port, f"/held{i}", b"b" * 100) for i in range(12)]
            wait_until(lambda: len(backend.requests) == 13, timeout=15, message="12 requests held at the app")
            gate.set()
            results = [call.result(timeout=20) for call in calls]
        assert [status for status, _ in results] == [200] * 12
        for request in backend.requests:
            assert "x-sidecar-orig-proto" not in request["headers"]
            assert request["headers"]["x-sidecar-attempt"] == "1"
        # 12 requests in flight at once over at most one connection per outbound event loop (an
        # HTTP/1.1 pool would have needed 12).
        handshakes = metric(scrape(server), "sidecar_tls_handshakes_total", direction="inbound", result="success")
        assert 1 <= handshakes <= 2, handshakes
        endpoint = client.admin_json("GET", "/v1/clusters")[1]["clusters"][0]["endpoints"][0]
        assert endpoint["protocol"] == "http2" and endpoint["sidecar"] is True
    finally:
        gate.set()
        backend.close()


def http1_only_mtls_backend(mesh):
    """An mTLS HTTP/1.1 server that is not a sidecar: it offers only `http/1.1` by ALPN."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(mesh.cert("payments"), mesh.key("payments"))
    context.load_verify_locations(mesh.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["http/1.1"])
    return HTTPBackend(echo_handler(), ssl_context=context)


def cluster_client(mesh, start_sidecar, address, protocol="auto", extra_args=(), **cluster_settings):
    """An outbound sidecar (`orders`) with one mTLS cluster `payments` of `protocol` to `address`."""
    return start_sidecar(
        {
            "service": "orders",
            "identity": mesh.identity("orders"),
            "admin": {"listen": "127.0.0.1:0"},
            "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "payments"}]}],
            "clusters": [
                {
                    "name": "payments",
                    "protocol": protocol,
                    "tls": {"mode": "mutual", "serverName": "payments"},
                    "endpoints": [{"address": address}],
                    **cluster_settings,
                }
            ],
        },
        extra_args=extra_args,
    )


def assert_echo(result, body_len):
    status, body = result
    assert status == 200, body
    echo = json.loads(body)
    assert echo["body_len"] == body_len and echo["headers"]["x-sidecar-attempt"] == "1"
    assert "x-sidecar-orig-proto" not in echo["headers"]


def test_auto_cluster_speaks_http1_to_an_endpoint_that_picks_it(mesh, start_sidecar):
    """`protocol: auto` towards an mTLS server that is not a sidecar and only offers `http/1.1`:
    the requests that waited for the first connection (bodies included) go over HTTP/1.1 as
    their first attempt, and every connection negotiated HTTP/1.1."""
    backend = http1_only_mtls_backend(mesh)
    try:
        client_sidecar = cluster_client(mesh, start_sidecar, backend.address)
        port = client_sidecar.outbound_port()
        with futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: http1_post(port, f"/first{i}", b"c" * 5000), range(4)))
        for result in results:
            assert_echo(result, 5000)
        assert_echo(http1_post(port, "/again", b"d"), 1)
        assert len(backend.requests) == 5
        assert backend.alpn and set(backend.alpn) == {"http/1.1"}, backend.alpn
        endpoint = client_sidecar.admin_json("GET", "/v1/clusters")[1]["clusters"][0]["endpoints"][0]
        assert endpoint["protocol"] == "http1" and endpoint["sidecar"] is False
    finally:
        backend.close()


def test_auto_cluster_keeps_a_large_body_back_until_the_endpoint_has_picked(mesh, start_sidecar):
    """A body larger than `maxBufferedBody` on the first request to an endpoint: it waits in the
    sidecar (the caller is paused) until the endpoint's ALPN pick is known, so that it can still
    go over HTTP/1.1 whole."""
    backend = http1_only_mtls_backend(mesh)
    try:
        port = cluster_client(mesh, start_sidecar, backend.address, retries={"maxRetries": 0}).outbound_port()
        assert_echo(http1_post(port, "/big", b"e" * 300_000), 300_000)
    finally:
        backend.close()


def test_auto_cluster_falls_back_within_one_connection_slot(mesh, start_sidecar):
    """With `maxConnections: 1`: the connection whose server picked HTTP/1.1 becomes the pooled
    HTTP/1.1 connection (nothing was sent on it), so the requests that waited for it go over it
    without needing a second slot: no `upstream_overflow`, and one TLS connection in all."""
    backend = http1_only_mtls_backend(mesh)
    try:
        client = cluster_client(
            mesh, start_sidecar, backend.address, circuitBreaker={"maxConnections": 1}, retries={"maxRetries": 0}
        )
        # One caller connection: its requests stay on one event loop (a second loop would need a
        # connection of its own, which the limit of one does not leave).
        connection = http.client.HTTPConnection("127.0.0.1", client.outbound_port(), timeout=15)
        try:
            for index in range(3):
                connection.request("POST", f"/one{index}", body=b"f" * 10, headers={"Host": "payments"})
                response = connection.getresponse()
                assert_echo((response.status, response.read()), 10)
        finally:
            connection.close()
        assert len(backend.requests) == 3
        assert backend.connections == 1
    finally:
        backend.close()


class H2TestServer:
    """A server made with the `h2` library, h2c or (with `ssl_context`) h2 over TLS, a thread per
    connection; subclasses answer in `request(h2conn, event)` for each request received."""

    def __init__(self, ssl_context=None):
        self.ssl_context = ssl_context
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def connected(self, conn):
        """A connection is up (after the TLS handshake, if any)."""

    def request(self, h2conn, event):
        raise NotImplementedError

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        if self.ssl_context is not None:
            try:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
        self.connected(conn)
        h2conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        h2conn.initiate_connection()
        try:
            conn.sendall(h2conn.data_to_send())
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for event in h2conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        self.request(h2conn, event)
                    elif isinstance(event, h2.events.DataReceived):
                        h2conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                conn.sendall(h2conn.data_to_send())
        except (OSError, h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            return
        finally:
            conn.close()

    def close(self):
        self.sock.close()


class RecordingH2TLSServer(H2TestServer):
    """An mTLS HTTP/2 server that is not a sidecar (ALPN `h2` only, so it ignores `sidecar/h2`):
    answers every request 200 and records its headers and each connection's ALPN pick."""

    def __init__(self, mesh):
        self.requests = []
        self.alpn = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(mesh.cert("payments"), mesh.key("payments"))
        context.load_verify_locations(mesh.ca)
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        super().__init__(ssl_context=context)

    def connected(self, conn):
        self.alpn.append(conn.selected_alpn_protocol())

    def request(self, h2conn, event):
        self.requests.append(dict(event.headers))
        h2conn.send_headers(event.stream_id, [(":status", "200"), ("content-length", "2")])
        h2conn.send_data(event.stream_id, b"ok", end_stream=True)


def test_orig_proto_goes_to_sidecars_only(mesh, start_sidecar):
    """An HTTP/2 cluster's endpoint that is not a sidecar (an mTLS h2 server that picks `h2`, not
    `sidecar/h2`) stops getting `x-sidecar-orig-proto` once its first connection's ALPN pick is
    known: only requests submitted while that connection was being set up may carry it. What one
    event loop learned holds for the others (each caller connection here may land on either of
    the sidecar's two loops, and each loop opens its own connection)."""
    server = RecordingH2TLSServer(mesh)
    try:
        client = cluster_client(mesh, start_sidecar, server.address, protocol="http2")
        port = client.outbound_port()
        endpoint = lambda: client.admin_json("GET", "/v1/clusters")[1]["clusters"][0]["endpoints"][0]  # noqa: E731
        assert endpoint()["sidecar"] is None  # nothing asked yet
        assert http1_post(port, "/first", b"a")[0] == 200
        wait_until(lambda: endpoint()["sidecar"] is False, message="the endpoint's ALPN pick known")
        for index in range(4):
            assert http1_post(port, f"/later{index}", b"b")[0] == 200
        assert len(server.requests) == 5
        assert len(server.alpn) == 2, "one connection per event loop: the later requests used both loops"
        for request in server.requests[1:]:
            assert "x-sidecar-orig-proto" not in request, request
        assert server.alpn and set(server.alpn) == {"h2"}, server.alpn
        assert endpoint()["sidecar"] is False
    finally:
        server.close()


def h2_mtls_request(mesh, port, path, extra_headers):
    """One GET over HTTP/2 with mTLS (as `orders`) from a client that is not a sidecar (ALPN `h2`
    only); returns the status and body."""
    context = ssl.create_default_context(cafile=mesh.ca)
    context.load_cert_chain(mesh.cert("orders"), mesh.key("orders"))
    context.set_alpn_protocols(["h2"])
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="payments")
    try:
        assert sock.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        headers = [(":method", "GET"), (":scheme", "https"), (":authority", "payments"), (":path", path), *extra_headers]
        conn.send_headers(1, headers, end_stream=True)
        sock.sendall(conn.data_to_send())
        status, body = None, b""
        while True:
            data = sock.recv(65536)
            assert data, "the connection closed before the response ended"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[":status"]
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    return status, body
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()


def test_inbound_believes_orig_proto_from_sidecars_only(mesh, start_sidecar):
    """A verified mTLS caller that is not a sidecar (its connection picked `h2`, not
    `sidecar/h2`) cannot make an `auto` inbound call the app in HTTP/1.1 by sending
    `x-sidecar-orig-proto`: the app is offered HTTP/2 first, as for any HTTP/2 caller (this one
    answers the preface as HTTP/1.1, so it then gets the request over HTTP/1.1), and never sees
    the field."""
    backend = HTTPBackend(echo_handler())
    try:
        server = start_sidecar(
            {
                "service": "payments",
                "identity": mesh.identity("payments"),
                "admin": {"listen": "127.0.0.1:0"},
                "inbound": [{"name": "public", "listen": "127.0.0.1:0", "tls": "mutual", "forwardTo": backend.address, "protocol": "auto"}],
            }
        )
        status, body = h2_mtls_request(mesh, server.inbound_port(), "/not-a-sidecar", [("x-sidecar-orig-proto", "HTTP/1.1")])
        assert status == "200", body
        assert "x-sidecar-orig-proto" not in json.loads(body)["headers"]
        # The HTTP/2 preface was tried first (a connection of its own), then HTTP/1.1.
        assert backend.connections == 2, backend.connections
    finally:
        backend.close()


def test_auto_cluster_needs_tls(start_sidecar):
    config = basic_config("127.0.0.1:9")
    config["clusters"][0]["protocol"] = "auto"
    sidecar = start_sidecar(config, expect_start=False)
    assert sidecar.proc.wait(timeout=20) == 1
    assert "protocol: auto negotiates by TLS ALPN and needs tls.mode: mutual" in sidecar.stderr_text()


def test_caller_orig_proto_header_is_not_passed_on(backend, start_sidecar):
    """Neither one nor several `x-sidecar-orig-proto` fields of a caller reach the app, on the
    outbound listener or the inbound one, and the fields around them do."""
    sidecar = start_sidecar(basic_config(backend.address))
    for port in (sidecar.outbound_port(), sidecar.inbound_port()):
        status, body = http1_post(port, "/one", b"g", {"X-Sidecar-Orig-Proto": "HTTP/1.1", "X-Before": "b"})
        assert status == 200
        headers = json.loads(body)["headers"]
        assert "x-sidecar-orig-proto" not in headers and headers["x-before"] == "b"
        data, _ = raw_exchange(
            port,
            b"GET /two HTTP/1.1\r\nHost: payments\r\nX-A: 1\r\nx-sidecar-orig-proto: HTTP/1.1\r\nX-B: 2\r\n"
            b"X-SIDECAR-ORIG-PROTO: HTTP/2\r\nX-C: 3\r\nConnection: close\r\n\r\n",
        )
        status, _, rest = parse_response_head(data)
        assert status == 200, data
        headers = json.loads(rest)["headers"]
        assert "x-sidecar-orig-proto" not in headers
        assert (headers["x-a"], headers["x-b"], headers["x-c"]) == ("1", "2", "3")


# ---------------------------------------------------------------------------------------------
# gRPC


def _identity(x):
    return x


class GRPCApp:
    """A grpcio server with generic handlers (raw bytes, no protoc): unary `Echo`, server-streaming
    `Stream`, `Flaky` (UNAVAILABLE first, then OK), `FlakyTrailers` (same, status in trailers after
    headers), `Slow` (answers only once the app closes: later than any deadline a test sets).
    Records the metadata of every call."""

    def __init__(self):
        self.calls = []
        self.flaky_count = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        app = self

        def record(context):
            metadata = dict(context.invocation_metadata())
            metadata["time_remaining"] = context.time_remaining()
            with app.lock:
                app.calls.append(metadata)

        def echo(request, context):
            record(context)
            context.set_trailing_metadata((("x-trailer", "t-" + request.decode()),))
            return b"echo:" + request

        def stream(request, context):
            record(context)
            for i in range(int(request)):
                yield f"msg-{i}".encode()
            context.set_trailing_metadata((("x-count", request.decode()),))

        def flaky(request, context):
            record(context)
            with app.lock:
                app.flaky_count += 1
                first = app.flaky_count == 1
            if first:
                context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
            return b"ok:" + request

        def flaky_trailers(request, context):
            record(context)
            with app.lock:
                app.flaky_count += 1
                first = app.flaky_count == 1
            if first:
                context.send_initial_metadata((("x-early", "1"),))
                context.abort(grpc.StatusCode.UNAVAILABLE, "try again later")
            return b"ok:" + request

        def big_then_unavailable(request, context):
            record(context)
            for i in range(20):
                yield bytes([65 + i % 26]) * 10_000
            context.abort(grpc.StatusCode.UNAVAILABLE, "gave up late")

        def slow(request, context):
            record(context)
            app.closing.wait(30)
            return b"late"

        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(echo, request_deserializer=_identity, response_serializer=_identity),
            "Stream": grpc.unary_stream_rpc_method_handler(stream, request_deserializer=_identity, response_serializer=_identity),
            "Flaky": grpc.unary_unary_rpc_method_handler(flaky, request_deserializer=_identity, response_serializer=_identity),
            "FlakyTrailers": grpc.unary_unary_rpc_method_handler(flaky_trailers, request_deserializer=_identity, response_serializer=_identity),
            "BigThenUnavailable": grpc.unary_stream_rpc_method_handler(
                big_then_unavailable, request_deserializer=_identity, response_serializer=_identity
            ),
            "Slow": grpc.unary_unary_rpc_method_handler(slow, request_deserializer=_identity, response_serializer=_identity),
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Svc", handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"
        self.server.start()

    def close(self):
        self.closing.set()
        self.server.stop(0)


@pytest.fixture
def grpc_app():
    app = GRPCApp()
    yield app
    app.close()


def grpc_channel(port):
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_http_proxy", 0), ("grpc.enable_retries", 0)])


def unary(channel, method):
    return channel.unary_unary(f"/test.Svc/{method}", request_serializer=_identity, response_deserializer=_identity)


GRPC_RETRIES = {"maxRetries": 2, "retryOn": ["grpc-unavailable"], "backoff": {"base": "10ms", "max": "50ms"}}


@pytest.mark.parametrize("cluster_protocol", ["http2", "auto"])
def test_grpc_unary_and_streaming_through_mesh(mesh, grpc_app, start_sidecar, cluster_protocol):
    """gRPC over the mesh, the hop HTTP/2 by configuration or by ALPN: an HTTP/2 caller carries
    no `x-sidecar-orig-proto`, so the inbound's `auto` app is called over HTTP/2 (h2c)."""
    client, _ = mesh_pair(mesh, start_sidecar, grpc_app.address, cluster_protocol=cluster_protocol)
    with grpc_channel(client.outbound_port()) as channel:
        response, call = unary(channel, "Echo").with_call(b"hi", metadata=(("x-meta", "m1"),), timeout=10)
        assert response == b"echo:hi"
        assert call.code() == grpc.StatusCode.OK
        assert ("x-trailer", "t-hi") in call.trailing_metadata()
        assert grpc_app.calls[-1]["x-meta"] == "m1"
        assert grpc_app.calls[-1]["x-sidecar-attempt"] == "1"
        assert "x-request-id" in grpc_app.calls[-1]
        assert "x-sidecar-orig-proto" not in grpc_app.calls[-1]

        stream = channel.unary_stream("/test.Svc/Stream", request_serializer=_identity, response_deserializer=_identity)
        call = stream(b"25", timeout=10)
        messages = list(call)
        assert messages == [f"msg-{i}".encode() for i in range(25)]
        assert ("x-count", "25") in call.trailing_metadata()
        assert call.code() == grpc.StatusCode.OK


def test_grpc_unavailable_retried_trailers_only(mesh, grpc_app, start_sidecar):
    client, _ = mesh_pair(mesh, start_sidecar, grpc_app.address, retries=GRPC_RETRIES)
    with grpc_channel(client.outbound_port()) as channel:
        response, call = unary(channel, "Flaky").with_call(b"x", timeout=10)
    assert response == b"ok:x"
    assert grpc_app.flaky_count == 2
    # Two attempts from the outbound sidecar (the inbound one numbers its own hop afresh).
    assert len(grpc_app.calls) == 2
    assert metric(scrape(client), "sidecar_upstream_retries_total", cluster="payments", reason="grpc-status") == 1


def test_grpc_unavailable_in_trailers_is_held_and_retried(mesh, grpc_app, start_sidecar):
    client, _ = mesh_pair(mesh, start_sidecar, grpc_app.address, retries=GRPC_RETRIES)
    with grpc_channel(client.outbound_port()) as channel:
        response, call = unary(channel, "FlakyTrailers").with_call(b"y", timeout=10)
    assert response == b"ok:y"
    assert call.code() == grpc.StatusCode.OK
    assert grpc_app.flaky_count == 2
    # The failed attempt's early headers never reached the caller.
    assert ("x-early", "1") not in call.initial_metadata()


def test_grpc_response_larger_than_buffer_is_passed_through_not_retried(mesh, grpc_app, start_sidecar):
    client, _ = mesh_pair(mesh, start_sidecar, grpc_app.address, retries=GRPC_RETRIES)
    with grpc_channel(client.outbound_port()) as channel:
        stream = channel.unary_stream("/test.Svc/BigThenUnavailable", request_serializer=_identity, response_deserializer=_identity)
        call = stream(b"", timeout=10)
        received = []
        with pytest.raises(grpc.RpcError) as failure:
            for message in call:
                received.append(message)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(received) == 20 and all(len(m) == 10_000 for m in received)
    assert len(grpc_app.calls) == 1, "200 KB is over maxBufferedBody (64 KiB): streamed, never retried"


def test_grpc_unavailable_passed_on_without_retry_policy(mesh, grpc_app, start_sidecar):
    client, _ = mesh_pair(mesh, start_sidecar, grpc_app.address)
    with grpc_channel(client.outbound_port()) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            unary(channel, "FlakyTrailers").with_call(b"z", timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert failure.value.details() == "try again later"
    assert grpc_app.flaky_count == 1


def test_grpc_deadline_exceeded_at_grpc_timeout(mesh, grpc_app, start_sidecar):
    client, _ = mesh_pair(mesh, start_sidecar, grpc_app.address)
    started = time.monotonic()
    with grpc_channel(client.outbound_port()) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            unary(channel, "Slow").with_call(b"", timeout=0.5)
    elapsed = time.monotonic() - started
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 2.0
    # The app saw the time left (grpc-timeout passed on by both sidecars), not more than the
    # caller's deadline.
    wait_until(lambda: grpc_app.calls, message="slow call to reach the app")
    remaining = grpc_app.calls[-1]["time_remaining"]
    assert remaining is not None and 0 < remaining <= 0.5


def h2_connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def h2_read_events(sock, conn, until, timeout=10.0):
    """Reads frames until `until(events_so_far)` is true or the peer closes; returns all events."""
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(events):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not data:
            break
        try:
            events.extend(conn.receive_data(data))
        except h2.exceptions.ProtocolError:
            break
        pending = conn.data_to_send()
        if pending:
            try:
                sock.sendall(pending)
            except OSError:
                pass
    return events


def raw_frames(sock, until, timeout=10.0):
    """Reads raw HTTP/2 frames (hyperframe) until `until(frames)` is true or the peer closes."""
    frames = []
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(frames):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
        while len(data) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(data[:9]))
            if len(data) < 9 + length:
                break
            frame.parse_body(memoryview(data[9 : 9 + length]))
            frames.append(frame)
            data = data[9 + length :]
    return frames


def test_sidecar_made_grpc_error_is_trailers_only_and_deadline_answered_by_sidecar(grpc_app, start_sidecar):
    """The sidecar's own gRPC answers over HTTP/2: one HEADERS frame with END_STREAM carrying
    grpc-status (here: DEADLINE_EXCEEDED at the caller's grpc-timeout, from a raw h2 client that
    has no deadline of its own)."""
    sidecar = start_sidecar(
        {
            "service": "orders",
            "admin": {"listen": "127.0.0.1:0"},
            "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "app"}]}],
            "clusters": [{"name": "app", "protocol": "http2", "tls": {"mode": "disabled"}, "endpoints": [{"address": grpc_app.address}]}],
        }
    )
    sock, conn = h2_connect(sidecar.outbound_port())
    headers = [
        (":method", "POST"), (":scheme", "http"), (":authority", "app"), (":path", "/test.Svc/Slow"),
        ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-timeout", "300m"),
    ]
    conn.send_headers(1, headers)
    conn.send_data(1, b"\x00\x00\x00\x00\x00", end_stream=True)
    sock.sendall(conn.data_to_send())
    started = time.monotonic()
    events = h2_read_events(sock, conn, lambda evs: any(isinstance(e, h2.events.StreamEnded) for e in evs))
    elapsed = time.monotonic() - started
    sock.close()
    responses = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    assert len(responses) == 1, events
    assert not any(isinstance(e, h2.events.DataReceived) for e in events)
    assert not any(isinstance(e, h2.events.TrailersReceived) for e in events)
    assert responses[0].stream_ended is not None  # END_STREAM on the only HEADERS frame
    fields = dict(responses[0].headers)
    assert fields[":status"] == "200"
    assert fields["grpc-status"] == "4"
    assert fields["x-sidecar-error"] == "upstream_timeout"
    assert 0.25 <= elapsed < 2.0


# ---------------------------------------------------------------------------------------------
# Protection


def well_behaved_client(port, stop, results):
    """Sends h2 requests one at a time on its own connection until `stop` is set."""
    sock, conn = h2_connect(port)
    stream_id = 1
    try:
        while not stop.is_set():
            conn.send_headers(stream_id, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/good")], end_stream=True)
            sock.sendall(conn.data_to_send())
            events = h2_read_events(sock, conn, lambda evs: any(isinstance(e, h2.events.StreamEnded) for e in evs))
            status = [dict(e.headers).get(":status") for e in events if isinstance(e, h2.events.ResponseReceived)]
            results.append(status[0] if status else None)
            if any(isinstance(e, h2.events.ConnectionTerminated) for e in events):
                results.append("goaway")
                return
            stream_id += 2
    finally:
        sock.close()


def test_rapid_reset_costs_the_offender_its_connection_only(start_sidecar):
    # The flood's requests reach a backend that holds them (upstream work the offender makes the
    # proxy start and abandon); the well-behaved client's are answered at once.
    gate = threading.Event()
    backend = HTTPBackend(echo_handler(gate))
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        port = sidecar.outbound_port()
        stop = threading.Event()
        results = []
        good = threading.Thread(target=well_behaved_client, args=(port, stop, results), daemon=True)
        good.start()

        sock, conn = h2_connect(port)
        terminated = None
        stream_id = 1
        for _ in range(1000):
            try:
                conn.send_headers(stream_id, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/held-bad")], end_stream=True)
                conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
                sock.sendall(conn.data_to_send())
            except (OSError, h2.exceptions.ProtocolError):
                break
            stream_id += 2
        events = h2_read_events(sock, conn, lambda evs: any(isinstance(e, h2.events.ConnectionTerminated) for e in evs))
        sock.close()
        terminated = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
        assert terminated, "no GOAWAY for the rapid-reset client"
        assert terminated[0].error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM

        # The other client keeps getting answers on its own connection.
        before = len(results)
        wait_until(lambda: len(results) >= before + 2, timeout=10, message="well-behaved client answers after the flood")
        stop.set()
        good.join(timeout=10)
        assert "goaway" not in results
        assert results and all(status == "200" for status in results), results
        samples = scrape(sidecar)
        assert metric(samples, "sidecar_http2_flood_closed_total", listener="egress", reason="rapid_reset") == 1
    finally:
        gate.set()
        backend.close()


def test_empty_data_flood_gets_goaway(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    sock, conn = h2_connect(sidecar.outbound_port())
    conn.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", "/empty")])
    sock.sendall(conn.data_to_send())
    # h2 will not frame empty DATA for us: write the 9-byte frame headers by hand.
    empty_data = (0).to_bytes(3, "big") + b"\x00" + b"\x00" + (1).to_bytes(4, "big")
    try:
        sock.sendall(empty_data * 500)
    except OSError:
        pass
    events = h2_read_events(sock, conn, lambda evs: any(isinstance(e, h2.events.ConnectionTerminated) for e in evs))
    sock.close()
    terminated = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    assert terminated and terminated[0].error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    assert metric(scrape(sidecar), "sidecar_http2_flood_closed_total", listener="egress", reason="empty_data") == 1


def test_settings_announce_max_concurrent_streams(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    sock, conn = h2_connect(sidecar.outbound_port())
    h2_read_events(sock, conn, lambda evs: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in evs), timeout=5)
    assert conn.remote_settings.max_concurrent_streams == 256


def test_drain_sends_goaway_and_finishes_in_flight(start_sidecar):
    # The backend holds the in-flight response until the client has seen both GOAWAYs, so the
    # request is still in flight when the drain starts and ends, whatever the timing.
    gate = threading.Event()
    backend = HTTPBackend(echo_handler(gate))
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        sock, conn = h2_connect(sidecar.outbound_port())
        conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/held-inflight")], end_stream=True)
        sock.sendall(conn.data_to_send())
        wait_until(lambda: backend.requests, message="the in-flight request at the backend")
        status, _ = sidecar.admin("POST", "/v1/drain")
        assert status in (200, 202)
        # h2's state machine stops at the first GOAWAY: read the frames raw.
        def answered_after_both_goaways(fs):
            if len([f for f in fs if isinstance(f, GoAwayFrame)]) >= 2:
                gate.set()  # now let the in-flight response go
            return gate.is_set() and any("END_STREAM" in f.flags and f.stream_id == 1 for f in fs)

        frames = raw_frames(sock, answered_after_both_goaways)
        sock.close()
        goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
        assert [g.last_stream_id for g in goaways][:2] == [2**31 - 1, 1], goaways
        assert all(g.error_code == 0 for g in goaways)
        heads = [f for f in frames if isinstance(f, HeadersFrame) and f.stream_id == 1]
        assert heads and dict(Decoder().decode(heads[0].data))[":status"] == "200"
        assert any("END_STREAM" in f.flags and f.stream_id == 1 for f in frames)
    finally:
        gate.set()
        backend.close()


class RefusingH2Server(H2TestServer):
    """h2c: the first request it ever sees is refused with RST_STREAM REFUSED_STREAM, every later
    one answered 200 `served`."""

    def __init__(self):
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__()

    def request(self, h2conn, event):
        with self.lock:
            self.requests += 1
            first = self.requests == 1
        if first:
            h2conn.reset_stream(event.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
        else:
            h2conn.send_headers(event.stream_id, [(":status", "200"), ("content-length", "6")])
            h2conn.send_data(event.stream_id, b"served", end_stream=True)


def test_refused_stream_from_h2_upstream_is_retried(start_sidecar):
    server = RefusingH2Server()
    try:
        sidecar = start_sidecar(
            {
                "service": "orders",
                "admin": {"listen": "127.0.0.1:0"},
                "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "h2app"}]}],
                "clusters": [
                    {
                        "name": "h2app", "protocol": "http2", "tls": {"mode": "disabled"},
                        "endpoints": [{"address": server.address}],
                        "retries": {"maxRetries": 2, "backoff": {"base": "10ms", "max": "20ms"}},
                    }
                ],
            }
        )
        result = curl(["-v", "--http1.1", f"http://127.0.0.1:{sidecar.outbound_port()}/refuse"])
        assert result.returncode == 0, result.stderr
        assert "< HTTP/1.1 200" in result.stderr
        assert result.stdout == "served"
        assert server.requests == 2
        assert metric(scrape(sidecar), "sidecar_upstream_retries_total", cluster="h2app", reason="refused-stream") == 1
    finally:
        server.close()


def test_http1_caller_gets_a_streamed_response_from_an_h2_upstream_as_it_comes(mesh, start_sidecar):
    """HTTP/1.1 caller, HTTP/2 mesh hop, an app that streams: each part is passed on when the
    HTTP/2 connection's read ends, not held until the response ends."""
    release = threading.Event()

    def app(conn):
        if read_http_request(conn) is None:
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        release.wait(10)
        conn.sendall(b"6\r\nsecond\r\n0\r\n\r\n")

    raw = RawBackend(app)
    try:
        client, _ = mesh_pair(mesh, start_sidecar, raw.address, inbound_protocol="http1")
        sock = socket.create_connection(("127.0.0.1", client.outbound_port()), timeout=10)
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: payments\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 5
        sock.settimeout(0.2)
        while b"first" not in data and time.monotonic() < deadline:
            try:
                data += sock.recv(65536)
            except socket.timeout:
                pass
        assert b"first" in data, f"the first part did not arrive while the app held the rest: {data!r}"
        assert b"second" not in data
        release.set()
        sock.settimeout(5)
        while b"second" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        assert b"second" in data
    finally:
        release.set()
        raw.close()


def test_slow_reader_through_h2_mesh_holds_back_the_backend(mesh, start_sidecar):
    """HTTP/1.1 caller → outbound → HTTP/2 over mTLS → inbound → HTTP/1.1 app streaming 32 MiB.
    The caller reads slowly, then stops: HTTP/2 flow control and both sidecars' writability
    carry that back to the app, which ends up blocked long before the end of its body, neither
    sidecar's memory grows with it, and the body arrives intact once the caller reads on."""
    import hashlib
    import http.client
    import os

    from harness import AnonPeak
    from test_streaming import MAX_GROWTH_KIB, MiB, StreamingBackend, read_rest, read_slowly_then_stop

    size = 32 * MiB
    data = os.urandom(size)
    backend = StreamingBackend(data)
    try:
        client, server = mesh_pair(mesh, start_sidecar, backend.address, inbound_protocol="http1", timeouts={"request": "60s"})
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.settimeout(60)
        s.connect(("127.0.0.1", client.outbound_port()))
        conn = http.client.HTTPConnection("127.0.0.1", client.outbound_port(), timeout=60)
        conn.sock = s
        with AnonPeak(client) as client_memory, AnonPeak(server) as server_memory:
            conn.request("GET", "/download", headers={"Host": "payments"})
            resp = conn.getresponse()
            assert resp.status == 200
            hasher = hashlib.sha256()
            got = read_slowly_then_stop(resp, hasher, backend, seconds=1.0)
            assert backend.sent < size * 0.6, f"the app pushed {backend.sent / MiB:.1f} MiB while the client read {got / MiB:.1f} MiB"
            got += read_rest(resp, hasher)
            conn.close()
        assert got == size
        assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
        for name, memory in (("outbound", client_memory), ("inbound", server_memory)):
            assert memory.growth < MAX_GROWTH_KIB, f"the {name} sidecar's anonymous RSS grew by {memory.growth} KiB"
    finally:
        backend.close()

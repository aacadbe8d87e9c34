"""HTTP/1.1 proxying through the real binary: round trips, headers, keep-alive, error flags."""

import http.client
import json

from harness import HTTPBackend, basic_config, raw_request, wait_until


def get(port, path="/", headers=None, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_outbound_round_trip(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    resp, data = get(sidecar.outbound_port(), "/hello?x=1", headers={"Host": "backend"})
    assert resp.status == 200
    echo = json.loads(data)
    assert echo["path"] == "/hello?x=1"
    assert echo["headers"]["host"] == "backend"
    assert echo["headers"]["x-sidecar-attempt"] == "1"
    made = echo["headers"]["x-request-id"]
    assert len(made) == 36 and made[14] == "4" and made[8] == made[13] == made[18] == made[23] == "-"
    # The access log names the id the upstream was given.
    wait_until(lambda: any(r.get("request_id") == made for r in sidecar.access_log()), message="access log line with the made id")


def test_inbound_round_trip(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    resp, data = get(sidecar.inbound_port(), "/in", headers={"Host": "orders", "x-request-id": "abc-123"})
    assert resp.status == 200
    echo = json.loads(data)
    assert echo["headers"]["x-request-id"] == "abc-123"
    assert echo["headers"]["host"] == "orders"


def test_keep_alive_reuses_one_upstream_connection(backend, start_sidecar):
    config = basic_config(backend.address)
    sidecar = start_sidecar(config, extra_args=())
    conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=10)
    for i in range(50):
        conn.request("GET", f"/r{i}", headers={"Host": "backend"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    conn.close()
    # Two event loops may each open one connection; never one per request.
    assert backend.connections <= 2, backend.connections


def test_outbound_keeps_caller_request_id(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    resp, data = get(sidecar.outbound_port(), "/", headers={"Host": "backend", "x-request-id": "keep-me-42"})
    assert resp.status == 200
    assert json.loads(data)["headers"]["x-request-id"] == "keep-me-42"


def test_routing_host_exact_suffix_path_prefix_and_catch_all(start_sidecar):
    backends = {name: HTTPBackend(name=name) for name in ("exact", "suffix", "prefix", "fallback")}
    try:
        config = basic_config(backends["fallback"].address)
        config["outbound"][0]["routes"] = [
            {"host": "payments", "cluster": "exact"},
            {"host": "*.example", "cluster": "suffix"},
            {"host": "api", "pathPrefix": "/v2/", "cluster": "prefix"},
            {"cluster": "fallback"},
        ]
        config["clusters"] = [
            {"name": name, "tls": {"mode": "disabled"}, "endpoints": [{"address": b.address}]}
            for name, b in backends.items()
        ]
        config["inbound"][0]["forwardTo"] = backends["fallback"].address
        sidecar = start_sidecar(config)
        port = sidecar.outbound_port()
        cases = [
            ("payments", "/x", "exact"),
            ("PAYMENTS:8080", "/x", "exact"),
            ("a.example", "/", "suffix"),
            ("a.b.example:80", "/", "suffix"),
            ("example", "/", "fallback"),  # the suffix needs a label before it
            ("payments.other", "/", "fallback"),
            ("api", "/v2/orders", "prefix"),
            ("api", "/v1/orders", "fallback"),
            ("unknown", "/", "fallback"),
        ]
        for host, path, expected in cases:
            resp, data = get(port, path, headers={"Host": host})
            assert resp.status == 200, (host, path)
            assert json.loads(data)["service"] == expected, (host, path)
    finally:
        for b in backends.values():
            b.close()


def test_no_route_is_404(backend, start_sidecar):
    config = basic_config(backend.address)
    config["outbound"][0]["routes"] = [{"host": "payments", "cluster": "backend"}]
    sidecar = start_sidecar(config)
    resp, data = get(sidecar.outbound_port(), "/", headers={"Host": "orders"})
    assert resp.status == 404
    assert resp.getheader("x-sidecar-error") == "no_route"
    assert b"no_route" in data
    assert backend.requests == []


def test_hop_by_hop_headers_removed_and_host_preserved(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    headers = {
        "Host": "payments.mesh:8443",
        "Connection": "keep-alive, X-Conn-Private, Upgrade",
        "X-Conn-Private": "secret",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Upgrade": "websocket",
        "Proxy-Connection": "keep-alive",
        "X-End-To-End": "kept",
        "x-sidecar-attempt": "7",
    }
    resp, data = get(sidecar.outbound_port(), "/h", headers=headers)
    assert resp.status == 200
    seen = json.loads(data)["headers"]
    for name in ("connection", "x-conn-private", "keep-alive", "te", "upgrade", "proxy-connection"):
        assert name not in seen, (name, seen)
    assert seen["host"] == "payments.mesh:8443"
    assert seen["x-end-to-end"] == "kept"
    assert seen["x-sidecar-attempt"] == "1"
    assert len(seen["x-request-id"]) == 36


def test_received_attempt_fields_give_way_to_this_hops_count(backend, start_sidecar):
    """A received `x-sidecar-attempt` (the previous hop's, or a caller's own) is replaced by this
    hop's count: in place when it is the only one, all of them when there are several."""
    sidecar = start_sidecar(basic_config(backend.address))
    for fields in ([b"x-sidecar-attempt: 3"], [b"X-Sidecar-Attempt: 1", b"x-sidecar-attempt: 2"], [b"x-sidecar-attempt: 12"]):
        raw = b"GET /a HTTP/1.1\r\nHost: backend\r\n" + b"".join(f + b"\r\n" for f in fields) + b"Connection: close\r\n\r\n"
        answer = raw_request(sidecar.inbound_port(), raw)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
        received = backend.requests[-1]["raw_headers"]
        assert [v for k, v in received if k.lower() == "x-sidecar-attempt"] == ["1"], (fields, received)


def test_inbound_never_passes_on_callers_client_cert_header(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    resp, data = get(
        sidecar.inbound_port(), "/", headers={"Host": "orders", "X-Forwarded-Client-Cert": "By=spiffe://evil;URI=spiffe://evil"}
    )
    assert resp.status == 200
    seen = json.loads(data)["headers"]
    assert "x-forwarded-client-cert" not in seen
    assert len(seen["x-request-id"]) == 36


def test_downstream_connection_reused_for_many_requests(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=10)
    conn.connect()
    first_sock = conn.sock
    for i in range(100):
        conn.request("POST" if i % 2 else "GET", f"/k{i}", body=b"x" * i if i % 2 else None, headers={"Host": "backend"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert resp.getheader("connection", "").lower() != "close"
        # http.client drops its socket when the server signals or performs a close.
        assert conn.sock is first_sock, f"downstream connection not reused at request {i}"
    conn.close()
    assert len(backend.requests) == 100
    assert backend.connections <= 2


def test_access_log_line_per_request(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    resp, _ = get(sidecar.outbound_port(), "/logged?q=1", method="POST", body=b"12345", headers={"Host": "backend", "x-request-id": "log-1"})
    assert resp.status == 200
    resp, _ = get(sidecar.inbound_port(), "/in", headers={"Host": "orders", "x-request-id": "log-2"})
    assert resp.status == 200
    def logged():
        lines = [r for r in sidecar.access_log() if r.get("request_id") in ("log-1", "log-2")]
        return lines if len(lines) == 2 else None

    lines = wait_until(logged, timeout=5, message="two access log lines")
    by_id = {r["request_id"]: r for r in lines}
    out = by_id["log-1"]
    assert out["direction"] == "outbound"
    assert out["listener"] == "egress"
    assert out["method"] == "POST"
    assert out["path"] == "/logged?q=1"
    assert out["status"] == 200
    assert out["flags"] == []
    assert isinstance(out["duration_ms"], (int, float)) and out["duration_ms"] >= 0
    assert out["upstream"] == backend.address
    assert out["bytes_in"] == 5
    assert out["bytes_out"] > 0
    assert out["time"]
    inbound = by_id["log-2"]
    assert inbound["direction"] == "inbound"
    assert inbound["listener"] == "public"
    # Exactly one line per request, every line JSON.
    assert len(sidecar.access_log()) == len(sidecar.stdout_lines) == 2


def test_hop_by_hop_response_headers_removed(start_sidecar):
    from harness import RawBackend, read_http_request

    def behaviour(conn):
        while read_http_request(conn) is not None:
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
                b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-End: kept\r\n\r\nok"
            )

    raw = RawBackend(behaviour)
    try:
        sidecar = start_sidecar(basic_config(raw.address))
        resp, data = get(sidecar.outbound_port(), "/", headers={"Host": "backend"})
        assert resp.status == 200 and data == b"ok"
        for name in ("x-hop", "keep-alive", "proxy-connection"):
            assert resp.getheader(name) is None, name
        assert "x-hop" not in (resp.getheader("connection") or "").lower()
        assert resp.getheader("x-end") == "kept"
    finally:
        raw.close()

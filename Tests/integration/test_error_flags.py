"""Each error flag of CONTRACT section 4, produced by a real upstream misbehaving, plus
100-continue and trailers."""

import http.client
import json
import socket
import threading
import time

from harness import (
    HTTPBackend,
    RawBackend,
    basic_config,
    decode_chunked,
    free_port,
    parse_response_head,
    raw_exchange,
    read_http_request,
    read_until,
    wait_until,
)


def get(port, path="/", headers=None, method="GET", body=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, body=body, headers={"Host": "backend", **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def single_cluster(address, **cluster_overrides):
    config = basic_config(address)
    config["clusters"][0].update(cluster_overrides)
    return config


def test_nothing_listening_is_503_connect_failure_after_retries(start_sidecar):
    dead = f"127.0.0.1:{free_port()}"
    sidecar = start_sidecar(single_cluster(dead))
    resp, data = get(sidecar.outbound_port(), headers={"x-request-id": "dead-1"})
    assert resp.status == 503
    assert resp.getheader("x-sidecar-error") == "upstream_connect_failure"
    assert b"upstream_connect_failure" in data
    line = wait_until(
        lambda: next((r for r in sidecar.access_log() if r["request_id"] == "dead-1"), None), message="access log line"
    )
    assert line["attempts"] == 3  # the first try and the default two retries
    assert "upstream_connect_failure" in line["flags"]


def test_backend_closing_mid_response_truncates_the_body(start_sidecar):
    def behaviour(conn):
        read_http_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"a" * 100)
        conn.close()

    raw = RawBackend(behaviour)
    try:
        sidecar = start_sidecar(single_cluster(raw.address))
        conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=10)
        conn.request("GET", "/", headers={"Host": "backend"})
        resp = conn.getresponse()
        assert resp.status == 200
        try:
            body = resp.read()
        except http.client.IncompleteRead as e:
            body = e.partial
        else:
            raise AssertionError(f"the client got a complete body of {len(body)} bytes")
        assert len(body) < 1000
        conn.close()
    finally:
        raw.close()


def closes_before_response(counter):
    def behaviour(conn):
        read_http_request(conn)
        counter.append(1)
        conn.close()

    return behaviour


def test_backend_closing_before_response_is_502_reset(start_sidecar):
    seen = []
    raw = RawBackend(closes_before_response(seen))
    try:
        sidecar = start_sidecar(single_cluster(raw.address, retries={"maxRetries": 0}))
        resp, data = get(sidecar.outbound_port())
        assert resp.status == 502
        assert resp.getheader("x-sidecar-error") == "upstream_reset"
        assert len(seen) == 1  # no retry
    finally:
        raw.close()


def test_default_retry_recovers_on_a_healthy_second_endpoint(backend, start_sidecar):
    seen = []
    raw = RawBackend(closes_before_response(seen))
    try:
        config = single_cluster(raw.address)
        config["clusters"][0]["endpoints"] = [{"address": raw.address}, {"address": backend.address}]
        sidecar = start_sidecar(config)
        for i in range(6):
            resp, data = get(sidecar.outbound_port(), f"/r{i}")
            assert resp.status == 200, data
            assert json.loads(data)["service"] == "backend"
        assert seen, "the resetting endpoint was never tried"
        attempts = [r["headers"]["x-sidecar-attempt"] for r in backend.requests]
        assert "2" in attempts, attempts
    finally:
        raw.close()


def test_garbage_from_backend_is_502_protocol_error(start_sidecar):
    def behaviour(conn):
        read_http_request(conn)
        conn.sendall(b"this is not HTTP at all\r\n\r\n")
        # Keep the connection open until the sidecar gives up on it (so the 502 comes from the
        # garbage, not from an early close).
        conn.settimeout(5)
        while conn.recv(65536):
            pass
        conn.close()

    raw = RawBackend(behaviour)
    try:
        sidecar = start_sidecar(single_cluster(raw.address))
        resp, _ = get(sidecar.outbound_port())
        assert resp.status == 502
        assert resp.getheader("x-sidecar-error") == "upstream_protocol_error"
    finally:
        raw.close()


def test_slow_backend_is_504_timeout_and_upstream_connection_closed(start_sidecar):
    eof_at = []

    def behaviour(conn):
        read_http_request(conn)
        conn.settimeout(10)
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
        eof_at.append(time.monotonic())

    raw = RawBackend(behaviour)
    try:
        sidecar = start_sidecar(single_cluster(raw.address, timeouts={"request": "1s"}))
        started = time.monotonic()
        resp, data = get(sidecar.outbound_port())
        elapsed = time.monotonic() - started
        assert resp.status == 504
        assert resp.getheader("x-sidecar-error") == "upstream_timeout"
        assert 0.8 <= elapsed <= 1.2, elapsed
        wait_until(lambda: eof_at, timeout=3, message="the sidecar to close the hung upstream connection")
        assert eof_at[0] - started <= 2.0
    finally:
        raw.close()


def test_expect_100_continue(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: backend\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = read_until(s, b"\r\n\r\n")
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
    assert backend.requests == []  # the body was not sent yet
    s.sendall(b"hello")
    data = interim.partition(b"\r\n\r\n")[2] + read_until(s, b"}")
    status, headers, body = parse_response_head(data)
    assert status == 200
    while len(body) < int(headers["content-length"]):
        body += s.recv(65536)
    echo = json.loads(body)
    assert echo["body_len"] == 5
    assert "expect" not in echo["headers"]
    s.close()


def test_request_trailers_reach_the_backend(start_sidecar):
    received = []

    def behaviour(conn):
        data = read_until(conn, b"\r\n0\r\n")
        # The last chunk is followed by the trailer section, which ends with an empty line.
        while not (data.endswith(b"\r\n\r\n") or data.endswith(b"\r\n0\r\n\r\n")):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        received.append(data)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    raw = RawBackend(behaviour)
    try:
        sidecar = start_sidecar(single_cluster(raw.address))
        request = (
            b"POST /t HTTP/1.1\r\nHost: backend\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc123\r\n\r\n"
        )
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
        s.sendall(request)
        response = read_until(s, b"ok")
        s.close()
        assert response.startswith(b"HTTP/1.1 200"), response
        wait_until(lambda: received, message="backend to receive the request")
        head, _, body = received[0].partition(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
        payload, trailers = decode_chunked(body)
        assert payload == b"hello world"
        assert [t.lower() for t in trailers] == [b"x-checksum: abc123"]
    finally:
        raw.close()


def test_response_trailers_reach_the_client(start_sidecar):
    def behaviour(conn):
        while read_http_request(conn) is not None:
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n"
                b"3\r\nabc\r\n4\r\ndefg\r\n0\r\ngrpc-status: 0\r\nx-extra: yes\r\n\r\n"
            )

    raw = RawBackend(behaviour)
    try:
        sidecar = start_sidecar(single_cluster(raw.address))
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n")
        data = read_until(s, b"\r\n0\r\n")
        while not data.endswith(b"\r\n\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        status, headers, body = parse_response_head(data)
        assert status == 200
        assert headers.get("transfer-encoding") == "chunked"
        payload, trailers = decode_chunked(body)
        assert payload == b"abcdefg"
        assert sorted(t.lower() for t in trailers) == [b"grpc-status: 0", b"x-extra: yes"]
    finally:
        raw.close()


def test_a_sidecar_made_answer_to_head_has_no_body_on_either_protocol(start_sidecar):
    """HEAD answered by the sidecar (here 503 `upstream_connect_failure`): the head says what a GET
    would have had, but no body is sent, over HTTP/1.1 or h2c, and the access log counts none."""
    import subprocess

    sidecar = start_sidecar(single_cluster(f"127.0.0.1:{free_port()}"))
    port = sidecar.outbound_port()
    # HTTP/1.1, kept alive: a body sent after the head would be read as the next response.
    data, _ = raw_exchange(
        port,
        b"HEAD / HTTP/1.1\r\nHost: backend\r\nx-request-id: head-h1\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: backend\r\nx-request-id: get-h1\r\nConnection: close\r\n\r\n",
    )
    first_head, _, rest = data.partition(b"\r\n\r\n")
    assert first_head.startswith(b"HTTP/1.1 503"), data
    assert rest.startswith(b"HTTP/1.1 503"), data  # the GET's answer follows the HEAD's head directly
    result = subprocess.run(
        ["curl", "-sS", "-I", "--http2-prior-knowledge", "-H", "x-request-id: head-h2", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 0 and result.stdout.startswith("HTTP/2 503"), result
    lines = wait_until(
        lambda: (lambda l: l if len(l) == 2 else None)([r for r in sidecar.access_log() if r["request_id"] in ("head-h1", "head-h2")]),
        message="access log lines of both HEAD requests",
    )
    assert [line["bytes_out"] for line in lines] == [0, 0], lines

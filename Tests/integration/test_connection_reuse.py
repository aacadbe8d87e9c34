"""Connection state that outlives one request: pooled upstream connections, breaker slots held
across retries, pipelined requests of a caller that left. Each test failed before its fix."""

import http.client
import socket
import struct
import time

from harness import HTTPBackend, RawBackend, basic_config, read_http_request, wait_until


def test_pooled_connection_reads_again_after_a_slow_reader_paused_it(start_sidecar):
    big = b"x" * (8 * 1024 * 1024)
    backend = HTTPBackend(lambda req: (200, {}, big if req["path"] == "/big" else b"small"))
    try:
        config = basic_config(backend.address)
        config["clusters"][0]["timeouts"] = {"request": "3s"}
        sidecar = start_sidecar(config)
        conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=10)
        conn.request("GET", "/big", headers={"Host": "backend"})
        resp = conn.getresponse()
        # Read nothing for a while: the socket buffers fill, the sidecar pauses reading upstream.
        wait_until(lambda: len(backend.requests) == 1, message="the big request reached the backend")
        time.sleep(0.5)  # behaviour under test: a reader that reads nothing for a while
        assert len(resp.read()) == len(big)
        # The same downstream connection, so the same event loop and its pooled upstream connection.
        started = time.monotonic()
        conn.request("GET", "/small", headers={"Host": "backend"})
        second = conn.getresponse()
        assert second.read() == b"small"
        assert second.status == 200
        assert time.monotonic() - started < 1.0, "the pooled connection was left paused"
        assert backend.connections == 1, "the pooled connection was reused"
    finally:
        backend.close()


def test_retry_slots_are_released_when_a_retry_is_retried(start_sidecar):
    failing = HTTPBackend(lambda req: (503, {}, b"busy"))
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_address = f"127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # nothing listens: connect failures
    try:
        config = basic_config(failing.address)
        config["clusters"][0].update(
            endpoints=[{"address": dead_address}, {"address": failing.address}],
            retries={"maxRetries": 2, "retryOn": ["connect-failure", "5xx"], "backoff": {"base": "1ms", "max": "2ms"}},
            outlierDetection={"consecutive5xx": 1000, "consecutiveGatewayErrors": 1000},
            circuitBreaker={"maxRetries": 3},
        )
        sidecar = start_sidecar(config)
        conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=10)
        for _ in range(10):
            conn.request("GET", "/", headers={"Host": "backend"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (503,)
        _, clusters = sidecar.admin_json("GET", "/v1/clusters")
        assert clusters["clusters"][0]["circuitBreaker"]["retries"] == 0
        # Retries are still allowed: the last requests retried too (no retry_overflow).
        log = wait_until(lambda: (lambda l: l if len(l) >= 10 else None)([r for r in sidecar.access_log() if r["direction"] == "outbound"]),
                         message="ten access-log lines")
        assert all("retry_overflow" not in r["flags"] for r in log), [r["flags"] for r in log]
    finally:
        failing.close()


def test_pipelined_requests_of_a_caller_that_left_are_never_sent(start_sidecar):
    seen = []

    def slow(conn):
        while True:
            head = read_http_request(conn)
            if head is None:
                return
            seen.append(head.split(b"\r\n")[0])
            time.sleep(1.0)  # behaviour: a slow backend
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    backend = RawBackend(slow)
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()))
        s.sendall(b"GET /first HTTP/1.1\r\nHost: backend\r\n\r\nGET /second HTTP/1.1\r\nHost: backend\r\n\r\n")
        wait_until(lambda: seen, message="the first request at the backend")
        s.close()
        wait_until(lambda: any("downstream_closed" in r["flags"] for r in sidecar.access_log()), timeout=5,
                   message="the first exchange ended with the caller gone")
        # Drain waits for requests in flight: a wrongly replayed request would be at the backend
        # (which records a request as it reads it) before the process exits.
        assert sidecar.stop() == 0
        assert seen == [b"GET /first HTTP/1.1"], seen
    finally:
        backend.close()


def read_ok_response(sock):
    """Reads one response whose body is `ok`; returns when it was complete."""
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(65536)
        assert chunk, "the connection was closed"
        data += chunk
    return time.monotonic()


def stays_open_and_quiet(sock, seconds):
    """Waits `seconds` on `sock`, which must stay open with nothing to read all that time (a
    caller between requests)."""
    sock.settimeout(seconds)
    try:
        data = sock.recv(1)
    except socket.timeout:
        return
    finally:
        sock.settimeout(5)
    raise AssertionError("the connection was closed" if data == b"" else f"unexpected bytes: {data!r}")


def test_idle_caller_connection_is_closed_and_a_busy_one_is_kept(start_sidecar):
    """The listener's idle timeout closes a keep-alive connection that sends nothing, within a
    check period (a quarter of the limit) of the limit, and never one that keeps sending."""
    backend = HTTPBackend(lambda req: (200, {}, b"ok"))
    try:
        config = basic_config(backend.address)
        config["outbound"][0]["timeouts"] = {"idle": "1s"}
        sidecar = start_sidecar(config)

        def exchange(sock):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n")
            return read_ok_response(sock)

        busy = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            exchange(busy)
            stays_open_and_quiet(busy, 0.3)  # a caller that sends a request every 0.3 s
        exchange(busy)  # still open, 2.5 s (2.5 idle limits) after it was opened
        busy.close()

        idle = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
        answered = exchange(idle)
        assert idle.recv(65536) == b"", "the idle connection was not closed"
        closed_after = time.monotonic() - answered
        idle.close()
        assert 0.9 <= closed_after <= 2.0, f"closed {closed_after:.2f} s after its last response"
    finally:
        backend.close()


def test_connections_that_go_as_their_idle_checks_come_due(start_sidecar):
    """Callers that reset their connections just as the idle checks come due: a check that the
    loop had already taken up when its connection went must find nothing (it once reached a freed
    handler and crashed the process within a few rounds)."""
    backend = HTTPBackend(lambda req: (200, {}, b"ok"))
    try:
        config = basic_config(backend.address)
        config["outbound"][0]["timeouts"] = {"idle": "100ms"}
        sidecar = start_sidecar(config)
        port = sidecar.outbound_port()
        started = time.monotonic()
        while time.monotonic() - started < 4.0:
            socks = []
            for _ in range(100):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n")
                socks.append(s)
            for s in socks:
                read_ok_response(s)
            # Reset just before the 100 ms idle checks come due (none may close a connection
            # sooner than its limit).
            stays_open_and_quiet(socks[-1], 0.09)
            for s in socks:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            assert sidecar.proc.poll() is None, sidecar.stderr_text()[-2000:]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/", headers={"Host": "backend"})
        assert conn.getresponse().read() == b"ok"
        conn.close()
    finally:
        backend.close()

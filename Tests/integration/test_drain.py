"""Graceful drain on SIGTERM and `POST /v1/drain`: readiness flips, listeners close, in-flight
requests finish with `Connection: close`, and the process exits 0 (at the latest at drainTimeout)."""

import http.client
import signal
import socket
import threading
import time

from harness import HTTPBackend, Sidecar, basic_config, wait_until


def slow_backend(seconds):
    def handler(request):
        time.sleep(seconds)  # behaviour: a slow application
        return 200, {"content-type": "text/plain"}, b"slow done"

    return HTTPBackend(handler)


def start_in_flight(port):
    """Starts one request in a thread; returns a dict filled with the outcome."""
    result = {}

    def run():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            conn.request("GET", "/slow", headers={"Host": "backend"})
            resp = conn.getresponse()
            result["status"] = resp.status
            result["connection"] = resp.getheader("connection")
            result["body"] = resp.read()
            conn.close()
        except Exception as e:  # noqa: BLE001 - recorded for the assertions
            result["error"] = e
        result["done"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return result, thread


def ready_status(sidecar):
    try:
        return sidecar.admin("GET", "/ready")[0]
    except OSError:
        return None


def refuses_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def check_graceful_drain(trigger):
    backend = slow_backend(1.5)
    sidecar = Sidecar(basic_config(backend.address, drainTimeout="10s"))
    try:
        port = sidecar.outbound_port()
        assert ready_status(sidecar) == 200
        result, thread = start_in_flight(port)
        wait_until(lambda: backend.requests, message="the slow request to reach the backend")
        started = time.monotonic()
        trigger(sidecar)
        wait_until(lambda: ready_status(sidecar) == 503, timeout=0.5, message="/ready to turn 503")
        wait_until(lambda: refuses_connections(port), timeout=0.5, message="new connections to be refused")
        thread.join(timeout=10)
        assert "error" not in result, result
        assert result["status"] == 200
        assert result["body"] == b"slow done"
        assert (result["connection"] or "").lower() == "close"
        assert sidecar.proc.wait(timeout=10) == 0
        exited = time.monotonic()
        assert exited - started < 5.0, "the sidecar waited for the drain timeout instead of the last request"
        assert exited >= result["done"] - 0.05
    finally:
        sidecar.stop()
        backend.close()


def test_sigterm_drains_gracefully():
    check_graceful_drain(lambda sidecar: sidecar.proc.send_signal(signal.SIGTERM))


def test_admin_drain_drains_gracefully():
    def post_drain(sidecar):
        status, _ = sidecar.admin("POST", "/v1/drain")
        assert status == 200

    check_graceful_drain(post_drain)


def test_idle_keep_alive_connection_closed_on_drain():
    backend = HTTPBackend()
    sidecar = Sidecar(basic_config(backend.address, drainTimeout="10s"))
    try:
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n")
        data = b""
        while b"}" not in data:
            data += s.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
        sidecar.proc.send_signal(signal.SIGTERM)
        s.settimeout(5)
        assert s.recv(65536) == b"", "the idle keep-alive connection was not closed"
        s.close()
        assert sidecar.proc.wait(timeout=5) == 0
    finally:
        sidecar.stop()
        backend.close()


def test_drain_timeout_bounds_exit():
    backend = slow_backend(6)
    sidecar = Sidecar(basic_config(backend.address, drainTimeout="1s"))
    try:
        result, thread = start_in_flight(sidecar.outbound_port())
        wait_until(lambda: backend.requests, message="the slow request to reach the backend")
        started = time.monotonic()
        sidecar.proc.send_signal(signal.SIGTERM)
        code = sidecar.proc.wait(timeout=5)
        elapsed = time.monotonic() - started
        assert code == 0
        assert 0.8 <= elapsed <= 1.6, elapsed
        thread.join(timeout=5)
        assert "status" not in result, "the request outlived the drain timeout yet got a response"
    finally:
        sidecar.stop()
        backend.close()

"""Resilience through the real binary: retries, ejection, retry budget, per-try timeouts,
bounded body replay, circuit-breaker limits."""

import hashlib
import http.client
import json
import socket
import threading
import time

from harness import HTTPBackend, RawBackend, metric, scrape, wait_until


def mesh_config(endpoints, **cluster):
    config = {
        "service": "resilience",
        "admin": {"listen": "127.0.0.1:0"},
        "accessLog": {"path": "off"},
        "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "svc"}]}],
        "clusters": [{"name": "svc", "tls": {"mode": "disabled"}, "endpoints": [{"address": e} for e in endpoints], **cluster}],
    }
    return config


class Client:
    """A keep-alive client on one connection (reconnects when the sidecar closes it)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method="GET", path="/", body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers={"Host": "svc", **(headers or {})})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp, data
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise


def status_backend(status):
    return HTTPBackend(lambda req: (status, {"content-type": "text/plain"}, b"x"))


def test_retries_hide_a_failing_endpoint_and_ejection_stops_traffic_to_it(start_sidecar):
    good = [HTTPBackend(), HTTPBackend()]
    bad = status_backend(503)
    try:
        sidecar = start_sidecar(
            mesh_config(
                [good[0].address, bad.address, good[1].address],
                retries={"maxRetries": 2, "retryOn": ["5xx"], "backoff": {"base": "1ms", "max": "5ms"}},
                outlierDetection={"consecutive5xx": 3, "interval": "100ms", "baseEjectionTime": "2s", "maxEjectionPercent": 34},
            )
        )
        client = Client(sidecar.outbound_port())
        ejected_at_count = None
        for i in range(1000):
            resp, _ = client.request(path=f"/{i}")
            assert resp.status == 200, i
            if ejected_at_count is None:
                _, clusters = sidecar.admin_json("GET", "/v1/clusters")
                states = {e["address"]: e["state"] for e in clusters["clusters"][0]["endpoints"]}
                if states[bad.address] == "ejected":
                    ejected_at_count = len(bad.requests)
                    ejected_time = time.monotonic()
            elif time.monotonic() - ejected_time < 1.5:
                assert len(bad.requests) == ejected_at_count, "an ejected endpoint got traffic"
        assert ejected_at_count is not None, "the failing endpoint was never ejected"
        samples = scrape(sidecar)
        assert metric(samples, "sidecar_outlier_ejections_total", cluster="svc") >= 1
        assert metric(samples, "sidecar_upstream_retries_total", cluster="svc", reason="5xx") >= 1
        assert metric(samples, "sidecar_requests_total", direction="outbound", listener="egress", cluster="svc", code="200") == 1000
        # After its ejection time (2 s × the times it was ejected) it gets traffic again.
        _, clusters = sidecar.admin_json("GET", "/v1/clusters")
        entry = next(e for e in clusters["clusters"][0]["endpoints"] if e["address"] == bad.address)
        assert entry["ejections"] >= 1
        before = len(bad.requests)
        wait_until(
            lambda: client.request()[0].status == 200 and len(bad.requests) > before,
            timeout=2 * min(entry["ejections"], 10) + 3,
            message="traffic to the endpoint after its ejection ended",
        )
    finally:
        for b in good + [bad]:
            b.close()


def test_retry_budget_bounds_attempts_when_everything_fails(start_sidecar):
    backends = [status_backend(503) for _ in range(3)]
    try:
        sidecar = start_sidecar(
            mesh_config(
                [b.address for b in backends],
                retries={
                    "maxRetries": 2,
                    "retryOn": ["5xx"],
                    "backoff": {"base": "1ms", "max": "2ms"},
                    "budget": {"ratio": 0.2, "minRetriesPerSecond": 10},
                },
                outlierDetection={"consecutive5xx": 1000, "consecutiveGatewayErrors": 1000},
            )
        )
        requests = [0]
        slow = []
        stop = time.monotonic() + 10
        lock = threading.Lock()

        def load():
            client = Client(sidecar.outbound_port())
            while time.monotonic() < stop:
                started = time.monotonic()
                resp, _ = client.request()
                assert resp.status == 503
                elapsed = time.monotonic() - started
                with lock:
                    requests[0] += 1
                    if elapsed > 0.5:
                        slow.append(elapsed)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        attempts = sum(len(b.requests) for b in backends)
        assert requests[0] > 500, requests[0]
        assert attempts <= requests[0] * 1.2 + 10 * 10 + 20, (attempts, requests[0])
        assert attempts > requests[0], "some retries were allowed"
        assert slow == [], "503s must come back quickly"
        assert metric(scrape(sidecar), "sidecar_retry_budget_exhausted_total", cluster="svc") > 0
    finally:
        for b in backends:
            b.close()


def test_per_try_timeout_moves_the_request_to_a_healthy_endpoint(start_sidecar):
    hung = RawBackend(lambda conn: conn.recv(65536) and time.sleep(30))
    healthy = HTTPBackend()
    try:
        sidecar = start_sidecar(
            mesh_config(
                [hung.address, healthy.address],
                timeouts={"perTry": "300ms", "request": "5s"},
                retries={"maxRetries": 1, "retryOn": ["reset"], "backoff": {"base": "1ms", "max": "2ms"}},
            )
        )
        client = Client(sidecar.outbound_port())
        latencies = []
        for _ in range(6):
            started = time.monotonic()
            resp, _ = client.request()
            latencies.append(time.monotonic() - started)
            assert resp.status == 200
        slow = [l for l in latencies if l > 0.2]
        assert slow, "some requests went to the hung endpoint first"
        for latency in slow:
            assert 0.3 <= latency < 0.3 + 0.4, latencies
        assert metric(scrape(sidecar), "sidecar_upstream_retries_total", cluster="svc", reason="per-try-timeout") >= 1
    finally:
        hung.close()
        healthy.close()


def test_small_body_is_replayed_and_large_body_is_not_retried(start_sidecar):
    def first_attempt_fails(req):
        if req["headers"]["x-sidecar-attempt"] == "1":
            return 503, {}, b"try again"
        return 200, {}, hashlib.sha256(req["body"]).hexdigest().encode()

    backend = HTTPBackend(first_attempt_fails)
    try:
        sidecar = start_sidecar(
            mesh_config(
                [backend.address],
                retries={"maxRetries": 2, "retryOn": ["5xx"], "maxBufferedBody": "64KiB", "backoff": {"base": "1ms", "max": "2ms"}},
            )
        )
        client = Client(sidecar.outbound_port())
        small = bytes(range(256)) * 100  # 25.6 KB
        resp, data = client.request("POST", "/small", body=small)
        assert resp.status == 200
        assert data.decode() == hashlib.sha256(small).hexdigest()
        attempts = [r for r in backend.requests if r["path"] == "/small"]
        assert [r["headers"]["x-sidecar-attempt"] for r in attempts] == ["1", "2"]
        assert attempts[0]["body"] == attempts[1]["body"] == small

        large = b"y" * (200 * 1024)
        resp, data = client.request("POST", "/large", body=large)
        assert resp.status == 503, "not retried: the upstream's answer is passed on"
        assert len([r for r in backend.requests if r["path"] == "/large"]) == 1
        assert metric(scrape(sidecar), "sidecar_retry_body_too_large_total", cluster="svc") == 1
    finally:
        backend.close()


def test_max_requests_limit_answers_overflow_at_once(start_sidecar):
    def slow(req):
        time.sleep(1.5)
        return 200, {}, b"slow"

    backend = HTTPBackend(slow)
    try:
        sidecar = start_sidecar(mesh_config([backend.address], circuitBreaker={"maxRequests": 5}))
        results = []
        lock = threading.Lock()
        barrier = threading.Barrier(20)

        def one():
            conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=10)
            conn.connect()
            barrier.wait()
            started = time.monotonic()
            conn.request("GET", "/", headers={"Host": "svc"})
            resp = conn.getresponse()
            resp.read()
            with lock:
                results.append((resp.status, resp.getheader("x-sidecar-error"), time.monotonic() - started))
            conn.close()

        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if r[0] == 200]
        overflow = [r for r in results if r[0] == 503]
        assert len(ok) == 5, results
        assert len(overflow) == 15, results
        assert all(r[1] == "upstream_overflow" for r in overflow)
        assert all(r[2] < 0.5 for r in overflow), "overflow is answered at once"
        assert metric(scrape(sidecar), "sidecar_upstream_overflow_total", cluster="svc", limit="requests") == 15
    finally:
        backend.close()

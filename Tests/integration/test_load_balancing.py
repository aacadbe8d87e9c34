"""Client-side load balancing over pushed endpoint lists, and active health checks."""

import http.client
import threading
import time

from harness import HTTPBackend, metric, scrape, wait_until


def lb_config(endpoints, **cluster):
    return {
        "service": "lb",
        "admin": {"listen": "127.0.0.1:0"},
        "accessLog": {"path": "off"},
        "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "svc"}]}],
        "clusters": [{"name": "svc", "tls": {"mode": "disabled"}, "endpoints": endpoints, **cluster}],
    }


class KeepAliveClient:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def get(self, path="/", headers=None):
        self.conn.request("GET", path, headers={"Host": "svc", **(headers or {})})
        resp = self.conn.getresponse()
        body = resp.read()
        return resp.status, resp.getheader("x-sidecar-error"), body


def test_health_check_takes_an_endpoint_out_and_back(start_sidecar):
    health = {"ok": True}

    def flaky(req):
        if req["path"] == "/healthz":
            return (200 if health["ok"] else 500), {}, b"health"
        return 200, {}, b"flaky"

    flaky_backend = HTTPBackend(flaky)
    steady = HTTPBackend(lambda req: (200, {}, b"steady"))
    try:
        sidecar = start_sidecar(
            lb_config(
                [{"address": flaky_backend.address}, {"address": steady.address}],
                healthCheck={"path": "/healthz", "interval": "200ms", "timeout": "500ms", "unhealthyThreshold": 2, "healthyThreshold": 2},
            )
        )
        client = KeepAliveClient(sidecar.outbound_port())
        wait_until(lambda: any(r["path"] == "/healthz" for r in flaky_backend.requests), message="first health check")

        def served_by(name, n=20):
            return sum(1 for _ in range(n) if client.get()[2] == name)

        assert served_by(b"flaky") > 0
        health["ok"] = False
        flipped = time.monotonic()
        wait_until(lambda: sidecar.admin_json("GET", "/v1/clusters")[1]["clusters"][0]["endpoints"][0]["state"] == "unhealthy",
                   timeout=3, message="endpoint marked unhealthy")
        # Interval × threshold, with jitter and one round in flight: well under a second.
        assert time.monotonic() - flipped < 1.2
        assert served_by(b"flaky", 40) == 0, "an unhealthy endpoint gets no traffic"
        assert metric(scrape(sidecar), "sidecar_endpoints", cluster="svc", state="unhealthy") == 1
        health["ok"] = True
        wait_until(lambda: served_by(b"flaky", 10) > 0, timeout=3, message="traffic back after recovery")
    finally:
        flaky_backend.close()
        steady.close()


def test_endpoint_churn_under_load_fails_no_request(start_sidecar):
    backends = [HTTPBackend(lambda req, i=i: (200, {}, f"b{i}".encode())) for i in range(4)]
    try:
        sidecar = start_sidecar(lb_config([{"address": backends[0].address}, {"address": backends[1].address}]))
        stop = threading.Event()
        failures = []
        counts = [0]
        lock = threading.Lock()

        def load():
            client = KeepAliveClient(sidecar.outbound_port())
            while not stop.is_set():
                try:
                    status, flag, _ = client.get()
                    if status != 200:
                        failures.append((status, flag))
                except Exception as error:  # noqa: BLE001
                    failures.append(repr(error))
                    client = KeepAliveClient(sidecar.outbound_port())
                with lock:
                    counts[0] += 1

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        version = 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # Rotate through overlapping and disjoint sets: {0,1} → {1,2} → {2,3} → {3,0} → ...
            first = version % 4
            chosen = [backends[first], backends[(first + 1) % 4]]
            status, body = sidecar.admin_json(
                "PUT", "/v1/clusters/svc/endpoints",
                {"version": version, "endpoints": [{"address": b.address} for b in chosen]},
            )
            assert status == 200, body
            version += 1
            time.sleep(0.2)  # the push cadence under test, not a wait for a condition
        stop.set()
        for t in threads:
            t.join()
        assert counts[0] > 1000, counts[0]
        assert failures == [], failures[:10]
        assert all(len(b.requests) > 0 for b in backends)
    finally:
        for b in backends:
            b.close()


def test_weights_one_to_three_split_within_five_percent(start_sidecar):
    a = HTTPBackend(lambda req: (200, {}, b"a"))
    b = HTTPBackend(lambda req: (200, {}, b"b"))
    try:
        sidecar = start_sidecar(lb_config([{"address": a.address, "weight": 1}, {"address": b.address, "weight": 3}]))
        client = KeepAliveClient(sidecar.outbound_port())
        for _ in range(4000):
            assert client.get()[0] == 200
        share = len(b.requests) / 4000
        assert abs(share - 0.75) <= 0.05, share
    finally:
        a.close()
        b.close()


def _slow_endpoint_share(start_sidecar, policy):
    import time as _time

    def slow(req):
        _time.sleep(0.05)  # behaviour under test: the slow endpoint
        return 200, {}, b"slow"

    fast = [HTTPBackend(lambda req: (200, {}, b"fast")) for _ in range(2)]
    slow_backend = HTTPBackend(slow)
    try:
        sidecar = start_sidecar(
            lb_config(
                [{"address": fast[0].address}, {"address": slow_backend.address}, {"address": fast[1].address}],
                loadBalancing={"policy": policy},
            )
        )
        total = [0]
        lock = threading.Lock()

        def load():
            client = KeepAliveClient(sidecar.outbound_port())
            for _ in range(150):
                assert client.get()[0] == 200
                with lock:
                    total[0] += 1

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(slow_backend.requests) / total[0]
    finally:
        for backend in fast + [slow_backend]:
            backend.close()


def test_peak_ewma_avoids_the_slow_endpoint(start_sidecar):
    share = _slow_endpoint_share(start_sidecar, "peak_ewma")
    assert share < 0.25, share


def test_least_request_avoids_the_slow_endpoint(start_sidecar):
    share = _slow_endpoint_share(start_sidecar, "least_request")
    assert share < 0.25, share


def test_ring_hash_sends_a_key_to_one_endpoint(start_sidecar):
    backends = [HTTPBackend(lambda req, i=i: (200, {}, f"b{i}".encode())) for i in range(3)]
    try:
        sidecar = start_sidecar(
            lb_config([{"address": b.address} for b in backends], loadBalancing={"policy": "ring_hash", "hashOn": {"header": "x-user-id"}})
        )
        client = KeepAliveClient(sidecar.outbound_port())
        for user in ("alice", "bob", "carol", "dave"):
            seen = {client.get(headers={"x-user-id": user})[2] for _ in range(10)}
            assert len(seen) == 1, (user, seen)
    finally:
        for b in backends:
            b.close()


def test_ring_hash_on_x_request_id_uses_the_generated_id(start_sidecar):
    """A request without `x-request-id` is hashed on the id the sidecar gives it: it reaches the
    endpoint a later request carrying that id reaches (the id is added with the first attempt)."""
    import json

    backends = [HTTPBackend(name=f"b{i}") for i in range(2)]
    try:
        sidecar = start_sidecar(
            lb_config([{"address": b.address} for b in backends], loadBalancing={"policy": "ring_hash", "hashOn": {"header": "x-request-id"}})
        )
        client = KeepAliveClient(sidecar.outbound_port())
        first = {}
        for _ in range(20):
            echo = json.loads(client.get()[2])
            first[echo["headers"]["x-request-id"]] = echo["service"]
        assert len(set(first.values())) == 2, first  # both endpoints are in play
        moved = [rid for rid, service in first.items() if json.loads(client.get(headers={"x-request-id": rid})[2])["service"] != service]
        assert moved == [], moved
    finally:
        for b in backends:
            b.close()

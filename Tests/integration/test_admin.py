"""The admin API (CONTRACT section 3): readiness, effective config, clusters, endpoint pushes."""

import http.client
import json

from harness import HTTPBackend, basic_config, free_port, wait_until


def get(port, path="/", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": "backend", **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_ready(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    status, body = sidecar.admin("GET", "/ready")
    assert status == 200
    assert body.strip() == b"ready"


def test_config_is_effective_config_with_defaults(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    status, config = sidecar.admin_json("GET", "/v1/config")
    assert status == 200
    assert config["service"] == "test"
    cluster = config["clusters"][0]
    assert cluster["name"] == "backend"
    assert cluster["endpoints"][0]["address"] == backend.address
    # Defaults applied (CONTRACT section 2).
    assert cluster["timeouts"]["connect"] == "1s"
    assert cluster["timeouts"]["request"] == "15s"
    assert cluster["retries"]["maxRetries"] == 2
    assert cluster["loadBalancing"]["policy"] == "round_robin"
    assert config["drainTimeout"] == "5s"
    assert config["outbound"][0]["name"] == "egress"
    assert config["inbound"][0]["tls"] == "disabled"


def test_clusters_shape(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    resp, _ = get(sidecar.outbound_port())
    assert resp.status == 200
    # The client can hold the whole body a moment before the sidecar sees the upstream's end.
    body = wait_until(
        lambda: (lambda b: b if b["clusters"][0]["endpoints"][0]["activeRequests"] == 0 else None)(clusters_snapshot(sidecar)),
        timeout=2,
        message="activeRequests back to 0",
    )
    clusters = {c["name"]: c for c in body["clusters"]}
    cluster = clusters["backend"]
    assert cluster["version"] == 0
    assert cluster["policy"] == "round_robin"
    assert set(cluster["circuitBreaker"]) >= {"connections", "pendingRequests", "requests", "retries"}
    assert all(isinstance(v, int) for v in cluster["circuitBreaker"].values())
    (endpoint,) = cluster["endpoints"]
    assert endpoint["address"] == backend.address
    assert endpoint["weight"] == 1
    assert endpoint["state"] == "healthy"
    assert endpoint["activeRequests"] == 0
    assert isinstance(endpoint["latencyMs"], (int, float))
    assert endpoint["ejections"] == 0


def clusters_snapshot(sidecar):
    return sidecar.admin_json("GET", "/v1/clusters")[1]


def test_endpoint_push_errors_change_nothing(backend, start_sidecar):
    sidecar = start_sidecar(basic_config(backend.address))
    before = clusters_snapshot(sidecar)
    path = "/v1/clusters/backend/endpoints"
    other = f"127.0.0.1:{free_port()}"
    bad_requests = [
        "{not json",
        json.dumps({"version": 1}),
        json.dumps({"version": 1, "endpoints": [{"address": "nowhere"}]}),
        json.dumps({"version": 1, "endpoints": [{"address": "127.0.0.1:99999"}]}),
        json.dumps({"version": 1, "endpoints": [{"address": other}, {"address": other}]}),
        json.dumps({"version": 1, "endpoints": [{"address": other, "weight": 0}]}),
        json.dumps({"version": 1, "endpoints": [{"address": other, "colour": "red"}]}),
    ]
    for body in bad_requests:
        status, answer = sidecar.admin("PUT", path, body)
        assert status == 400, (body, status, answer)
        assert json.loads(answer)["error"], answer
    status, answer = sidecar.admin("PUT", "/v1/clusters/nope/endpoints", {"version": 1, "endpoints": []})
    assert status == 404, answer
    status, answer = sidecar.admin("PUT", path, {"version": 0, "endpoints": [{"address": other}]})
    assert status == 409, answer
    assert clusters_snapshot(sidecar) == before
    resp, data = get(sidecar.outbound_port())
    assert resp.status == 200


def test_endpoint_push_moves_traffic_and_empty_list_is_503(backend, start_sidecar):
    new = HTTPBackend(name="new")
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        resp, data = get(sidecar.outbound_port())
        assert json.loads(data)["service"] == "backend"
        path = "/v1/clusters/backend/endpoints"
        status, answer = sidecar.admin_json("PUT", path, {"version": 7, "endpoints": [{"address": new.address, "weight": 3}]})
        assert status == 200
        assert answer == {"cluster": "backend", "version": 7, "endpoints": 1}
        # Live once answered: several connections (both event loops) all go to the new endpoint.
        for _ in range(8):
            resp, data = get(sidecar.outbound_port())
            assert resp.status == 200
            assert json.loads(data)["service"] == "new"
        cluster = clusters_snapshot(sidecar)["clusters"][0]
        assert cluster["version"] == 7
        assert [(e["address"], e["weight"]) for e in cluster["endpoints"]] == [(new.address, 3)]
        status, _ = sidecar.admin_json("PUT", path, {"version": 7, "endpoints": []})
        assert status == 409
        status, answer = sidecar.admin_json("PUT", path, {"version": 8, "endpoints": []})
        assert status == 200
        assert answer["endpoints"] == 0
        resp, data = get(sidecar.outbound_port())
        assert resp.status == 503
        assert resp.getheader("x-sidecar-error") == "no_healthy_upstream"
    finally:
        new.close()

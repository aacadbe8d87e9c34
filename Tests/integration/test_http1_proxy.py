"""HTTP/1.1 proxying through the real binary: round trips, headers, keep-alive, error flags."""

import http.client
import json

from harness import HTTPBackend, basic_config, wait_until


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
    assert len(echo["headers"]["x-request-id"]) == 36


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

"""Mutual TLS with real peers: curl and openssl s_client against the inbound listener, two
sidecars talking mTLS, identity checks, authorization, XFCC, rotation, permissive mode."""

import datetime
import http.client
import json
import os
import shutil
import ssl
import subprocess
import threading

import pytest

from certs import Mesh
from harness import HTTPBackend, SIDECAR_BIN, Sidecar, metric, scrape, wait_until


@pytest.fixture(scope="module")
def mesh():
    return Mesh(names=("orders", "payments", "intruder"))


def inbound_config(mesh, backend, allow=None, tls="mutual"):
    listener = {"name": "public", "listen": "127.0.0.1:0", "tls": tls, "forwardTo": backend.address}
    if allow is not None:
        listener["allow"] = allow
    return {
        "service": "payments",
        "identity": mesh.identity("payments"),
        "admin": {"listen": "127.0.0.1:0"},
        "inbound": [listener],
    }


def curl(port, mesh, name=None, path="/", extra=()):
    args = ["curl", "-sS", "-v", "--max-time", "10", "--cacert", mesh.ca, "--resolve", f"payments:{port}:127.0.0.1"]
    if name:
        args += ["--cert", mesh.cert(name), "--key", mesh.key(name)]
    args += [*extra, f"https://payments:{port}{path}"]
    return subprocess.run(args, capture_output=True, text=True)


def s_client(port, mesh, name=None, ca=None):
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca or mesh.ca, "-brief"]
    if name:
        args += ["-cert", mesh.cert(name), "-key", mesh.key(name)]
    return subprocess.run(args, input="GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", capture_output=True, text=True, timeout=15)


def test_no_client_certificate_fails_handshake(mesh, backend, start_sidecar):
    sidecar = start_sidecar(inbound_config(mesh, backend))
    result = curl(sidecar.inbound_port(), mesh)
    assert result.returncode != 0, result.stdout
    out = s_client(sidecar.inbound_port(), mesh)
    assert "HTTP/1.1" not in out.stdout
    assert backend.requests == []
    samples = wait_until(
        lambda: (lambda m: m if metric(m, "sidecar_tls_handshakes_total", direction="inbound", result="failure") >= 2 else None)(scrape(sidecar)),
        message="two failed handshakes counted",
    )
    assert metric(samples, "sidecar_tls_handshakes_total", direction="inbound", result="success") == 0


def test_certificate_from_another_ca_fails(mesh, backend, start_sidecar):
    other = Mesh(names=("orders",))
    sidecar = start_sidecar(inbound_config(mesh, backend))
    result = curl(sidecar.inbound_port(), other, "orders", extra=("--cacert", mesh.ca))
    assert result.returncode != 0
    assert backend.requests == []


def test_expired_certificate_fails(mesh, backend, start_sidecar, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    mesh.make_leaf("expired", not_before=now - datetime.timedelta(days=3), not_after=now - datetime.timedelta(days=1))
    sidecar = start_sidecar(inbound_config(mesh, backend))
    result = curl(sidecar.inbound_port(), mesh, "expired")
    assert result.returncode != 0
    assert backend.requests == []


def test_identity_not_allowed_gets_403(mesh, backend, start_sidecar):
    sidecar = start_sidecar(inbound_config(mesh, backend, allow=[mesh.spiffe("orders")]))
    result = curl(sidecar.inbound_port(), mesh, "intruder", extra=("-D", "-"))
    assert "403" in result.stdout.splitlines()[0], result.stdout + result.stderr
    assert "x-sidecar-error: forbidden" in result.stdout.lower()
    assert backend.requests == []
    samples = scrape(sidecar)
    assert metric(samples, "sidecar_authz_denied_total", listener="public") == 1
    assert metric(samples, "sidecar_tls_handshakes_total", direction="inbound", result="success") == 1


def test_allowed_identity_reaches_app_with_xfcc_over_tls13(mesh, backend, start_sidecar):
    sidecar = start_sidecar(inbound_config(mesh, backend, allow=[mesh.spiffe("orders")]))
    result = curl(sidecar.inbound_port(), mesh, "orders", path="/pay", extra=("-H", "x-forwarded-client-cert: By=evil;URI=spiffe://evil/x"))
    assert result.returncode == 0, result.stderr
    echo = json.loads(result.stdout)
    assert echo["headers"]["x-forwarded-client-cert"] == f"By={mesh.spiffe('payments')};URI={mesh.spiffe('orders')}"
    assert "TLSv1.3" in result.stderr
    out = s_client(sidecar.inbound_port(), mesh, "orders")
    assert "Protocol version: TLSv1.3" in out.stderr or "TLSv1.3" in out.stdout + out.stderr


def two_sidecars(mesh, backend, start_sidecar, expect_identity=None):
    server = start_sidecar(inbound_config(mesh, backend))
    tls = {"mode": "mutual", "serverName": "payments"}
    if expect_identity is not None:
        tls["expectIdentity"] = expect_identity
    client = start_sidecar(
        {
            "service": "orders",
            "identity": mesh.identity("orders"),
            "admin": {"listen": "127.0.0.1:0"},
            "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "payments"}]}],
            "clusters": [
                {"name": "payments", "tls": tls, "endpoints": [{"address": f"127.0.0.1:{server.inbound_port()}"}]}
            ],
        }
    )
    return client, server


def request(port, path="/", host="payments"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": host})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


def test_two_sidecars_speak_mtls(mesh, backend, start_sidecar):
    client, _ = two_sidecars(mesh, backend, start_sidecar, expect_identity=[mesh.spiffe("payments")])
    for _ in range(5):
        resp, body = request(client.outbound_port())
        assert resp.status == 200, body
    echo = json.loads(body)
    assert echo["headers"]["x-forwarded-client-cert"] == f"By={mesh.spiffe('payments')};URI={mesh.spiffe('orders')}"
    # Connections are pooled: five requests, one or two outbound handshakes (one per event loop).
    outbound = metric(scrape(client), "sidecar_tls_handshakes_total", direction="outbound", result="success")
    assert 1 <= outbound <= 2


def test_wrong_expected_identity_is_a_connect_failure(mesh, backend, start_sidecar):
    client, _ = two_sidecars(mesh, backend, start_sidecar, expect_identity=[mesh.spiffe("ledger")])
    resp, body = request(client.outbound_port())
    assert resp.status == 503
    assert resp.getheader("x-sidecar-error") == "upstream_connect_failure"
    assert backend.requests == []
    assert metric(scrape(client), "sidecar_tls_handshakes_total", direction="outbound", result="failure") >= 1


def test_permissive_accepts_plaintext_and_mtls_on_one_port(mesh, backend, start_sidecar):
    sidecar = start_sidecar(inbound_config(mesh, backend, tls="permissive"))
    resp, body = request(sidecar.inbound_port())
    assert resp.status == 200
    assert "x-forwarded-client-cert" not in json.loads(body)["headers"]
    result = curl(sidecar.inbound_port(), mesh, "orders")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["headers"]["x-forwarded-client-cert"].endswith(f"URI={mesh.spiffe('orders')}")


def peer_serial(port, mesh):
    context = ssl.create_default_context(cafile=mesh.ca)
    context.check_hostname = False
    context.load_cert_chain(mesh.cert("orders"), mesh.key("orders"))
    with context.wrap_socket(__import__("socket").create_connection(("127.0.0.1", port)), server_hostname="payments") as s:
        der = s.getpeercert(binary_form=True)
    from cryptography import x509
    return x509.load_der_x509_certificate(der).serial_number


def test_rotation_under_load_loses_no_request(backend, start_sidecar):
    mesh = Mesh(names=("orders", "payments"))
    client, server = two_sidecars(mesh, backend, start_sidecar)
    before = peer_serial(server.inbound_port(), mesh)
    failures = []
    count = [0]
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", client.outbound_port(), timeout=10)
                conn.request("GET", "/", headers={"Host": "payments", "Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    failures.append(resp.status)
                count[0] += 1
                conn.close()
            except Exception as error:  # noqa: BLE001
                failures.append(repr(error))

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: count[0] > 20, message="traffic before rotation")
    # Re-issue both workloads' certificates in place (new keys, new serials).
    mesh.issue("payments")
    mesh.issue("orders")
    wait_until(lambda: peer_serial(server.inbound_port(), mesh) != before, timeout=10, message="new serial on new connections")
    seen = count[0]
    wait_until(lambda: count[0] > seen + 20, message="traffic after rotation")
    stop.set()
    for t in threads:
        t.join()
    assert failures == []


def test_start_fails_with_bad_identity(mesh, tmp_path):
    def run(identity):
        config = {
            "service": "x",
            "identity": identity,
            "admin": {"listen": "127.0.0.1:0"},
            "inbound": [{"listen": "127.0.0.1:0", "forwardTo": "127.0.0.1:9"}],
        }
        path = tmp_path / "c.json"
        path.write_text(json.dumps(config))
        return subprocess.run([SIDECAR_BIN, "run", "--config", str(path)], capture_output=True, text=True, timeout=20)

    missing = run({**mesh.identity("orders"), "certificate": str(tmp_path / "nope.pem")})
    assert missing.returncode == 2
    assert "nope.pem" in missing.stderr
    mismatched = run({**mesh.identity("orders"), "privateKey": mesh.key("payments")})
    assert mismatched.returncode == 2
    assert "orders" in mismatched.stderr or "payments" in mismatched.stderr
    now = datetime.datetime.now(datetime.timezone.utc)
    mesh.make_leaf("old", not_before=now - datetime.timedelta(days=3), not_after=now - datetime.timedelta(days=1))
    expired = run(mesh.identity("old"))
    assert expired.returncode == 2
    assert "old.pem" in expired.stderr and "expired" in expired.stderr
    assert len(expired.stderr.strip().splitlines()) == 1


def test_admin_over_mutual_tls_answers_only_allowed_identities(mesh, backend, start_sidecar):
    config = inbound_config(mesh, backend)
    config["admin"] = {"listen": "127.0.0.1:0", "tls": "mutual", "allow": [mesh.spiffe("orders")]}
    sidecar = start_sidecar(config)
    port = sidecar.admin_port

    def admin_curl(name=None):
        args = ["curl", "-sS", "--max-time", "10", "--cacert", mesh.ca, "--resolve", f"payments:{port}:127.0.0.1"]
        if name:
            args += ["--cert", mesh.cert(name), "--key", mesh.key(name)]
        return subprocess.run(args + [f"https://payments:{port}/ready"], capture_output=True, text=True)

    allowed = admin_curl("orders")
    assert allowed.returncode == 0 and allowed.stdout == "ready\n", allowed.stderr
    assert admin_curl("intruder").returncode != 0, "an identity outside admin.allow gets no answer"
    assert admin_curl().returncode != 0, "no client certificate: refused in the handshake"
    plain = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/ready"], capture_output=True, text=True)
    assert "ready" not in plain.stdout, "the admin API is not served in plaintext"

"""Tracing through the real binary (CONTRACT section 6): W3C and B3 propagation, SERVER/CLIENT
spans exported over OTLP/HTTP with protobuf bodies to a real receiver in this test, retries as
separate CLIENT spans, a dead collector that must not slow requests, access-log trace fields."""

import http.client
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import statistics
import tempfile
import threading
import time

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from harness import HTTPBackend, RawBackend, free_port, metric, read_http_request, scrape, wait_until

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")
SERVER, CLIENT = 2, 3  # Span.SpanKind


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class OTLPReceiver:
    """An OTLP/HTTP trace receiver: decodes every `ExportTraceServiceRequest` it is sent into
    plain dicts (one per span) and answers 200 with an empty protobuf response."""

    def __init__(self):
        self.spans = []
        self.requests = 0
        self.content_types = set()
        self.paths = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                decoded = []
                for resource_spans in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            decoded.append(
                                {
                                    "service": resource.get("service.name"),
                                    "scope": scope_spans.scope.name,
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "parent_span_id": span.parent_span_id.hex(),
                                    "kind": span.kind,
                                    "name": span.name,
                                    "start": span.start_time_unix_nano,
                                    "end": span.end_time_unix_nano,
                                    "status": span.status.code,
                                    "attributes": {a.key: _value(a.value) for a in span.attributes},
                                }
                            )
                with receiver._lock:
                    receiver.requests += 1
                    receiver.spans.extend(decoded)
                    receiver.content_types.add(self.headers.get("Content-Type"))
                    receiver.paths.add(self.path)
                out = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = _ThreadingServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def find(self, **match):
        with self._lock:
            return [s for s in self.spans if all(s.get(k) == v for k, v in match.items())]

    def wait_for(self, count=1, timeout=10, **match):
        return wait_until(lambda: (lambda found: found if len(found) >= count else None)(self.find(**match)),
                          timeout=timeout, message=f"{count} span(s) matching {match}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def tracing(endpoint, **otlp):
    return {
        "sampleRate": 1.0,
        "propagation": ["tracecontext", "b3"],
        "otlp": {"endpoint": endpoint, "batchSize": 64, "flushInterval": "100ms", "maxQueue": 1024, **otlp},
    }


def outbound_config(service, cluster_endpoints, tracing_section, **cluster):
    config = {
        "service": service,
        "admin": {"listen": "127.0.0.1:0"},
        "drainTimeout": "2s",
        "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "svc"}]}],
        "clusters": [{"name": "svc", "tls": {"mode": "disabled"}, "endpoints": [{"address": e} for e in cluster_endpoints], **cluster}],
    }
    if tracing_section is not None:
        config["tracing"] = tracing_section
    return config


def inbound_config(service, app_address, tracing_section):
    config = {
        "service": service,
        "admin": {"listen": "127.0.0.1:0"},
        "drainTimeout": "2s",
        "inbound": [{"name": "public", "listen": "127.0.0.1:0", "tls": "disabled", "forwardTo": app_address}],
    }
    if tracing_section is not None:
        config["tracing"] = tracing_section
    return config


def request(port, path="/", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": "svc", **(headers or {})})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


def access_line(sidecar, request_id):
    return wait_until(
        lambda: next((r for r in sidecar.access_log() if r.get("request_id") == request_id), None),
        timeout=5, message=f"access log line {request_id}",
    )


def test_outbound_to_inbound_is_one_trace(start_sidecar):
    """(a) app → outbound sidecar → inbound sidecar → app: the outbound CLIENT span is the parent of
    the inbound SERVER span, and the app receives the SERVER span as its parent."""
    receiver = OTLPReceiver()
    app = HTTPBackend(name="payments-app")
    try:
        inbound = start_sidecar(inbound_config("payments", app.address, tracing(receiver.endpoint)))
        inbound_address = f"127.0.0.1:{inbound.inbound_port()}"
        outbound = start_sidecar(outbound_config("orders", [inbound_address], tracing(receiver.endpoint)))

        resp, _ = request(outbound.outbound_port(), "/pay?amount=3", {"x-request-id": "trace-a1"})
        assert resp.status == 200
        seen = app.requests[-1]["headers"]
        m = TRACEPARENT.match(seen["traceparent"])
        assert m, seen["traceparent"]
        trace_id, app_parent, flags = m.groups()
        assert flags == "01"

        client = receiver.wait_for(service="orders", trace_id=trace_id)[0]
        server = receiver.wait_for(service="payments", trace_id=trace_id)[0]
        assert client["kind"] == CLIENT and server["kind"] == SERVER
        assert client["scope"] == server["scope"] == "sidecar"
        assert client["parent_span_id"] == "", "a new trace: the outbound CLIENT span is the root"
        assert server["parent_span_id"] == client["span_id"]
        assert app_parent == server["span_id"], "the app's parent is the inbound SERVER span"
        # B3 is written too, naming the same span.
        assert seen["b3"] == f"{trace_id}-{server['span_id']}-1"
        assert client["start"] <= server["start"] <= server["end"]
        # The inbound side notes its end just after writing the response: the caller may be done first.
        assert server["end"] <= client["end"] + 50_000_000

        ca = client["attributes"]
        assert ca["http.request.method"] == "GET"
        assert ca["url.path"] == "/pay"
        assert ca["http.response.status_code"] == 200
        assert ca["server.address"] == "127.0.0.1"
        assert ca["server.port"] == inbound.inbound_port()
        assert ca["network.peer.address"] == "127.0.0.1"
        assert ca["sidecar.cluster"] == "svc"
        assert "http.request.resend_count" not in ca
        assert "error.type" not in ca and client["status"] == 0
        sa = server["attributes"]
        assert sa["http.request.method"] == "GET"
        assert sa["url.path"] == "/pay"
        assert sa["http.response.status_code"] == 200
        assert sa["server.port"] == inbound.inbound_port()
        assert sa["network.peer.address"] == "127.0.0.1"
        assert receiver.content_types == {"application/x-protobuf"}
        assert receiver.paths == {"/v1/traces"}

        # The access logs name the trace and each sidecar's span.
        out_line = access_line(outbound, "trace-a1")
        in_line = access_line(inbound, "trace-a1")
        assert out_line["trace_id"] == in_line["trace_id"] == trace_id
        assert out_line["span_id"] == client["span_id"]
        assert in_line["span_id"] == server["span_id"]
        assert out_line["attempts"] == 1 and "peer_identity" in out_line and out_line["flags"] == []

        # An incoming W3C context is continued: same trace, the caller's span as parent, tracestate kept.
        given_trace, given_parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        resp, _ = request(outbound.outbound_port(), "/pay", {"traceparent": f"00-{given_trace}-{given_parent}-01", "tracestate": "vendor=abc"})
        assert resp.status == 200
        seen = app.requests[-1]["headers"]
        assert seen["traceparent"].startswith(f"00-{given_trace}-")
        assert seen["tracestate"] == "vendor=abc"
        client = receiver.wait_for(service="orders", trace_id=given_trace)[0]
        server = receiver.wait_for(service="payments", trace_id=given_trace)[0]
        assert client["parent_span_id"] == given_parent
        assert server["parent_span_id"] == client["span_id"]

        # (e) /metrics parses and counts every request, and every span reached the receiver.
        samples = scrape(outbound)
        assert metric(samples, "sidecar_requests_total", direction="outbound", listener="egress", cluster="svc", code="200") == 2
        wait_until(lambda: metric(scrape(outbound), "sidecar_trace_spans_exported_total") == 2, timeout=5, message="2 spans exported")
        assert metric(scrape(outbound), "sidecar_trace_spans_dropped_total") == 0
    finally:
        app.close()
        receiver.close()


def test_retried_request_has_a_client_span_per_attempt(start_sidecar):
    """(b) first attempt 503, retried on 5xx: two CLIENT spans, the second with resend_count 1;
    each attempt's traceparent names its own span."""
    receiver = OTLPReceiver()
    calls = []

    def handler(req):
        calls.append(req["headers"])
        return (503, {}, b"busy") if len(calls) == 1 else (200, {}, b"ok")

    backend = HTTPBackend(handler)
    try:
        sidecar = start_sidecar(outbound_config(
            "orders", [backend.address], tracing(receiver.endpoint),
            retries={"maxRetries": 2, "retryOn": ["5xx"], "backoff": {"base": "1ms", "max": "2ms"}},
        ))
        resp, body = request(sidecar.outbound_port(), "/retry", {"x-request-id": "trace-b1"})
        assert resp.status == 200 and body == b"ok"
        assert [c["x-sidecar-attempt"] for c in calls] == ["1", "2"]
        first, second = (TRACEPARENT.match(c["traceparent"]).groups() for c in calls)
        assert first[0] == second[0], "both attempts are in one trace"
        assert first[1] != second[1], "each attempt carries its own span id"

        spans = receiver.wait_for(count=2, trace_id=first[0])
        by_id = {s["span_id"]: s for s in spans}
        assert set(by_id) == {first[1], second[1]}
        a1, a2 = by_id[first[1]], by_id[second[1]]
        assert a1["kind"] == a2["kind"] == CLIENT
        assert a1["parent_span_id"] == a2["parent_span_id"] == ""
        assert a1["attributes"]["http.response.status_code"] == 503
        assert a1["attributes"]["error.type"] == "503" and a1["status"] == 2
        assert "http.request.resend_count" not in a1["attributes"]
        assert a2["attributes"]["http.request.resend_count"] == 1
        assert a2["attributes"]["http.response.status_code"] == 200
        assert a1["end"] <= a2["start"]
        line = access_line(sidecar, "trace-b1")
        assert line["attempts"] == 2 and line["span_id"] == a2["span_id"] and line["trace_id"] == first[0]
    finally:
        backend.close()
        receiver.close()


def test_b3_input_continues_the_trace(start_sidecar):
    """(c) B3 single and multi headers are read; the trace id is kept and both formats are written."""
    receiver = OTLPReceiver()
    backend = HTTPBackend()
    try:
        sidecar = start_sidecar(outbound_config("orders", [backend.address], tracing(receiver.endpoint)))
        port = sidecar.outbound_port()

        # Single header, 64-bit trace id.
        resp, _ = request(port, "/b3", {"b3": "a3ce929d0e0e4736-00f067aa0ba902b7-1"})
        assert resp.status == 200
        seen = backend.requests[-1]["headers"]
        trace_id, span_id, _ = TRACEPARENT.match(seen["traceparent"]).groups()
        assert trace_id == "0000000000000000a3ce929d0e0e4736"
        assert seen["b3"] == f"a3ce929d0e0e4736-{span_id}-1"
        span = receiver.wait_for(trace_id=trace_id)[0]
        assert span["span_id"] == span_id and span["parent_span_id"] == "00f067aa0ba902b7"

        # Multi headers, 128-bit trace id: rewritten in place, the single header added.
        multi_trace = "463ac35c9f6413ad48485a3953bb6124"
        resp, _ = request(port, "/b3m", {"X-B3-TraceId": multi_trace, "X-B3-SpanId": "a2fb4a1d1a96d312", "X-B3-Sampled": "1"})
        assert resp.status == 200
        seen = backend.requests[-1]["headers"]
        span = receiver.wait_for(trace_id=multi_trace)[0]
        assert span["parent_span_id"] == "a2fb4a1d1a96d312"
        assert seen["x-b3-traceid"] == multi_trace
        assert seen["x-b3-spanid"] == span["span_id"]
        assert seen["x-b3-parentspanid"] == "a2fb4a1d1a96d312"
        assert seen["x-b3-sampled"] == "1"
        assert seen["traceparent"] == f"00-{multi_trace}-{span['span_id']}-01"

        # `b3: 0` denies sampling: headers still propagate (not sampled), no span is exported.
        resp, _ = request(port, "/deny", {"b3": "0"})
        assert resp.status == 200
        seen = backend.requests[-1]["headers"]
        denied_trace, _, flags = TRACEPARENT.match(seen["traceparent"]).groups()
        assert flags == "00" and seen["b3"].endswith("-0")
        # An invalid header starts a new, sampled trace.
        resp, _ = request(port, "/bad", {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "b3": "xyz"})
        assert resp.status == 200
        fresh_trace, _, flags = TRACEPARENT.match(backend.requests[-1]["headers"]["traceparent"]).groups()
        assert flags == "01" and fresh_trace != "0" * 32
        receiver.wait_for(trace_id=fresh_trace)
        # Drain flushes every span the sidecar still holds: after it, nothing more can arrive.
        assert sidecar.stop() == 0
        assert receiver.find(trace_id=denied_trace) == []
    finally:
        backend.close()
        receiver.close()


def test_without_tracing_headers_pass_through_unchanged(start_sidecar):
    backend = HTTPBackend()
    try:
        sidecar = start_sidecar(outbound_config("orders", [backend.address], None))
        given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        resp, _ = request(sidecar.outbound_port(), "/plain", {"traceparent": given, "b3": "0", "x-request-id": "plain-1"})
        assert resp.status == 200
        seen = backend.requests[-1]["headers"]
        assert seen["traceparent"] == given and seen["b3"] == "0"
        resp, _ = request(sidecar.outbound_port(), "/plain")
        assert "traceparent" not in backend.requests[-1]["headers"], "nothing is added without tracing"
        line = access_line(sidecar, "plain-1")
        assert line["trace_id"] is None and line["span_id"] is None
    finally:
        backend.close()


def _load(port, count):
    """Sends `count` sequential keep-alive requests; returns (successes, latencies in seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = 0
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        conn.request("GET", f"/load/{i}", headers={"Host": "svc"})
        resp = conn.getresponse()
        resp.read()
        latencies.append(time.perf_counter() - started)
        ok += resp.status == 200
    conn.close()
    return ok, latencies


def _fast_backend():
    """A keep-alive backend that answers each request with one write (no Nagle/delayed-ACK stalls)."""

    def behaviour(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while read_http_request(conn) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    return RawBackend(behaviour)


def test_dead_collector_never_slows_requests(start_sidecar):
    """(d) the collector is down: requests succeed as often and as fast as without tracing, and the
    spans that cannot be exported are dropped and counted."""
    backend = _fast_backend()
    dead = f"http://127.0.0.1:{free_port()}/v1/traces"
    try:
        plain = start_sidecar({**outbound_config("plain", [backend.address], None), "accessLog": {"path": "off"}})
        traced = start_sidecar({**outbound_config("traced", [backend.address], tracing(dead, batchSize=128, maxQueue=512)),
                                "accessLog": {"path": "off"}})
        _load(plain.outbound_port(), 100)  # warm up both
        _load(traced.outbound_port(), 100)
        results = {}
        for name, sidecar in (("plain", plain), ("traced", traced), ("plain2", plain), ("traced2", traced)):
            results[name] = _load(sidecar.outbound_port(), 500)
        plain_ok = results["plain"][0] + results["plain2"][0]
        traced_ok = results["traced"][0] + results["traced2"][0]
        assert plain_ok == traced_ok == 1000
        p50_plain = statistics.median(results["plain"][1] + results["plain2"][1])
        p50_traced = statistics.median(results["traced"][1] + results["traced2"][1])
        print(f"p50 without tracing {p50_plain * 1e3:.3f} ms, with tracing to a dead collector {p50_traced * 1e3:.3f} ms")
        assert p50_traced <= p50_plain * 1.5 + 0.001, (p50_plain, p50_traced)

        dropped = wait_until(lambda: metric(scrape(traced), "sidecar_trace_spans_dropped_total") or None,
                             timeout=10, message="dropped spans counted")
        assert dropped > 0
        samples = scrape(traced)
        assert metric(samples, "sidecar_trace_spans_exported_total") == 0
        assert metric(samples, "sidecar_requests_total", direction="outbound", listener="egress", cluster="svc", code="200") == 1100
        # The sidecar still answers promptly and drains cleanly with the collector down.
        resp, _ = request(traced.outbound_port(), "/after")
        assert resp.status == 200
        started = time.monotonic()
        assert traced.stop() == 0
        assert time.monotonic() - started < 8
    finally:
        backend.close()


def _event_loop_thread_nice_values(pid):
    """The nice value of each SwiftNIO event-loop thread of `pid` (threads named `NIO-ELT-...`;
    field 19 of /proc/PID/task/TID/stat)."""
    values = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended
        if stat[stat.index("(") + 1:].startswith("NIO-ELT"):
            values.append(int(stat.rsplit(")", 1)[1].split()[16]))
    return values


def test_span_export_runs_below_the_worker_loops(start_sidecar):
    """The exporter's loop (encoding and posting batches) runs 10 nice levels below the worker loops,
    so that its bursts do not take the CPU from them on a busy machine."""
    backend = _fast_backend()
    try:
        plain = start_sidecar({**outbound_config("plain", [backend.address], None), "accessLog": {"path": "off"}})
        traced = start_sidecar({**outbound_config("traced", [backend.address], tracing(f"http://127.0.0.1:{free_port()}/v1/traces")),
                                "accessLog": {"path": "off"}})
        # Compared with the worker loops, not with an absolute value: CI may run everything under
        # `nice` (and the loops' threads are made from Swift concurrency's, whose nice value
        # libdispatch sets from their QoS).
        assert len(set(_event_loop_thread_nice_values(plain.proc.pid))) == 1

        def lowered_once():
            values = sorted(_event_loop_thread_nice_values(traced.proc.pid))
            base = values[0]
            return values if values == [base] * (len(values) - 1) + [min(base + 10, 19)] else None

        wait_until(lowered_once, message="one event loop (the exporter's) 10 nice levels below the others")
    finally:
        backend.close()


def test_spans_are_flushed_on_drain(start_sidecar):
    receiver = OTLPReceiver()
    backend = HTTPBackend()
    try:
        sidecar = start_sidecar(outbound_config("orders", [backend.address], tracing(receiver.endpoint, flushInterval="1h")))
        for i in range(5):
            assert request(sidecar.outbound_port(), f"/f{i}")[0].status == 200
        assert receiver.find() == []
        assert sidecar.stop() == 0
        assert len(receiver.find(service="orders")) == 5
    finally:
        backend.close()
        receiver.close()


def test_access_log_destinations(start_sidecar):
    """`accessLog.path`: stdout, a file (reopened on SIGHUP after rotation), or off."""
    backend = HTTPBackend()
    try:
        directory = tempfile.mkdtemp(prefix="sidecar-log-")
        path = os.path.join(directory, "access.log")
        sidecar = start_sidecar({**outbound_config("orders", [backend.address], {"propagation": ["tracecontext"]}), "accessLog": {"path": path}})
        assert request(sidecar.outbound_port(), "/one", {"x-request-id": "file-1"})[0].status == 200

        def lines(p):
            if not os.path.exists(p):
                return []
            with open(p) as f:
                return [json.loads(line) for line in f if line.strip()]

        first = wait_until(lambda: [r for r in lines(path) if r["request_id"] == "file-1"], timeout=5, message="file log line")[0]
        assert re.fullmatch(r"[0-9a-f]{32}", first["trace_id"]) and re.fullmatch(r"[0-9a-f]{16}", first["span_id"])
        assert first["attempts"] == 1 and first["peer_identity"] is None and first["flags"] == []
        # Tracing without otlp still makes ids (propagation only): the app saw this request's span.
        assert backend.requests[-1]["headers"]["traceparent"] == f"00-{first['trace_id']}-{first['span_id']}-01"
        assert sidecar.stdout_lines == []

        rotated = path + ".1"
        os.rename(path, rotated)
        sidecar.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: os.path.exists(path), timeout=5, message="log file reopened")
        assert request(sidecar.outbound_port(), "/two", {"x-request-id": "file-2"})[0].status == 200
        wait_until(lambda: [r for r in lines(path) if r["request_id"] == "file-2"], timeout=5, message="line in the new file")
        assert [r["request_id"] for r in lines(rotated)] == ["file-1"]

        off = start_sidecar({**outbound_config("orders", [backend.address], None), "accessLog": {"path": "off"}})
        assert request(off.outbound_port(), "/off")[0].status == 200
        # Drain flushes the access log: after it, every line that would be written has been.
        assert off.stop() == 0
        assert off.stdout_lines == []

        out = start_sidecar(outbound_config("orders", [backend.address], None))
        assert request(out.outbound_port(), "/out", {"x-request-id": "stdout-1"})[0].status == 200
        assert access_line(out, "stdout-1")["status"] == 200
    finally:
        backend.close()


def test_mtls_hop_names_the_caller_identity(start_sidecar):
    """The same trace across an mTLS hop; the inbound SERVER span carries the caller's SPIFFE ID."""
    from certs import Mesh

    mesh = Mesh(names=("orders", "payments"))
    receiver = OTLPReceiver()
    app = HTTPBackend()
    try:
        inbound = start_sidecar({
            "service": "payments", "identity": mesh.identity("payments"), "admin": {"listen": "127.0.0.1:0"},
            "inbound": [{"name": "public", "listen": "127.0.0.1:0", "tls": "mutual", "forwardTo": app.address}],
            "tracing": tracing(receiver.endpoint),
        })
        outbound = start_sidecar({
            **outbound_config("orders", [f"127.0.0.1:{inbound.inbound_port()}"], tracing(receiver.endpoint)),
            "identity": mesh.identity("orders"),
            "clusters": [{"name": "svc", "tls": {"mode": "mutual", "serverName": "payments"},
                          "endpoints": [{"address": f"127.0.0.1:{inbound.inbound_port()}"}]}],
        })
        resp, _ = request(outbound.outbound_port(), "/secure", {"x-request-id": "mtls-1"})
        assert resp.status == 200
        trace_id, parent, _ = TRACEPARENT.match(app.requests[-1]["headers"]["traceparent"]).groups()
        server = receiver.wait_for(service="payments", trace_id=trace_id)[0]
        client = receiver.wait_for(service="orders", trace_id=trace_id)[0]
        assert server["span_id"] == parent and server["parent_span_id"] == client["span_id"]
        assert server["attributes"]["sidecar.peer.identity"] == mesh.spiffe("orders")
        line = access_line(inbound, "mtls-1")
        assert line["peer_identity"] == mesh.spiffe("orders") and line["span_id"] == server["span_id"]
    finally:
        app.close()
        receiver.close()


def test_hanging_collector_bounds_export_and_drain(start_sidecar):
    """A collector that accepts and never answers: requests are unaffected, batches time out and
    are dropped and counted, and a drain still ends within its bounded flush."""
    def hang(conn):
        while conn.recv(65536):
            pass

    collector = RawBackend(hang)
    backend = _fast_backend()
    try:
        sidecar = start_sidecar({**outbound_config("orders", [backend.address], tracing(f"http://{collector.address}/v1/traces", batchSize=8)),
                                 "accessLog": {"path": "off"}})
        ok, latencies = _load(sidecar.outbound_port(), 200)
        assert ok == 200 and statistics.median(latencies) < 0.05
        wait_until(lambda: metric(scrape(sidecar), "sidecar_trace_spans_dropped_total") > 0, timeout=20, message="timed-out batches dropped")
        started = time.monotonic()
        assert sidecar.stop() == 0
        assert time.monotonic() - started < 8
    finally:
        backend.close()
        collector.close()

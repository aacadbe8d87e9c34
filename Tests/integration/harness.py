"""Test harness: starts the real `sidecar` binary on loopback ports (port 0, then reads the
bound port from its stderr), real backend servers, and real clients. Waits on conditions with
deadlines, never bare sleeps."""

import http.client
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIDECAR_BIN = os.environ.get("SIDECAR_BIN", os.path.join(ROOT, ".build", "debug", "sidecar"))
if not os.path.isabs(SIDECAR_BIN):
    SIDECAR_BIN = os.path.join(ROOT, SIDECAR_BIN)

LISTENING = re.compile(r"^sidecar: listening (\S+) on (\S+)$")


def wait_until(condition, timeout=10.0, interval=0.01, message="condition"):
    """Polls `condition` until it returns a truthy value or `timeout` passes (then fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)  # the polling of this deadline-bounded wait


def yaml_dump(value, indent=0):
    """A tiny YAML writer for test configs (dicts, lists, scalars); JSON is valid YAML too."""
    return json.dumps(value, indent=2)


class Sidecar:
    """One `sidecar run` process."""

    def __init__(self, config, extra_args=(), env=None, expect_start=True):
        self.dir = tempfile.mkdtemp(prefix="sidecar-test-")
        self.config_path = os.path.join(self.dir, "config.json")
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        with open(self.config_path, "w") as f:
            f.write(text)
        self.config = config
        self.addresses = {}
        self.stderr_lines = []
        self.stdout_lines = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [SIDECAR_BIN, "run", "--config", self.config_path, "--workers", "2", *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            text=True,
        )
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines, False), daemon=True),
        ]
        for t in self._threads:
            t.start()
        if expect_start:
            expected = 1 + len(config.get("inbound", [])) + len(config.get("outbound", [])) if isinstance(config, dict) else 1
            wait_until(
                lambda: len(self.addresses) >= expected or self.proc.poll() is not None,
                timeout=20,
                message="sidecar to bind its listeners",
            )
            if self.proc.poll() is not None:
                raise AssertionError(f"sidecar exited with {self.proc.returncode}: {self.stderr_text()}")

    def _pump(self, stream, lines, parse):
        for line in stream:
            line = line.rstrip("\n")
            with self._lock:
                lines.append(line)
                if parse:
                    m = LISTENING.match(line)
                    if m:
                        self.addresses[m.group(1)] = m.group(2)

    def stderr_text(self):
        with self._lock:
            return "\n".join(self.stderr_lines)

    def access_log(self):
        """Parsed JSON access-log lines written so far (stdout)."""
        with self._lock:
            lines = list(self.stdout_lines)
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def port(self, name):
        return int(self.addresses[name].rsplit(":", 1)[1])

    @property
    def admin_port(self):
        return self.port("admin")

    def outbound_port(self, name="egress"):
        return self.port(f"outbound/{name}")

    def inbound_port(self, name="public"):
        return self.port(f"inbound/{name}")

    def admin(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        payload = json.dumps(body) if isinstance(body, (dict, list)) else body
        conn.request(method, path, body=payload)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def admin_json(self, method, path, body=None):
        status, data = self.admin(method, path, body)
        return status, json.loads(data)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def anon_kib(self):
        """Resident anonymous memory (heap, buffers, stacks): what a leak or an unbounded buffer
        grows. Unlike VmRSS it leaves out the binary's code pages, which the sidecar drops after
        start-up and which come back (in 64 KiB windows) as code first runs: in a debug build that
        alone is several MiB, and whether the baseline was read before or after the drop is a race."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
        return 0

    def hwm_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        return self.proc.returncode


class AnonPeak:
    """The highest anonymous RSS (`Sidecar.anon_kib`) a sidecar reaches while a `with` block runs,
    sampled every 5 ms on a thread: growth that builds up (a buffer that keeps what it was given)
    cannot slip between two samples."""

    def __init__(self, sidecar, interval=0.005):
        self.sidecar = sidecar
        self.interval = interval
        self.baseline = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, self.sidecar.anon_kib())
            except OSError:
                return  # the process is gone: the test has failed for another reason

    def __enter__(self):
        self.baseline = self.peak = self.sidecar.anon_kib()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.sidecar.anon_kib())
        return False

    @property
    def growth(self):
        """KiB above the value when the block began; so far, while it runs."""
        return self.peak - self.baseline


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of new connections from the sidecar's
    # pool (e.g. 32 concurrent h2 streams fanned out to HTTP/1.1) would see refused connects.
    request_queue_size = 1024


class HTTPBackend:
    """A threaded HTTP/1.1 keep-alive server on a free loopback port.

    `handler(request)` receives a dict (method, path, headers, body) and returns
    (status, headers_dict, body_bytes); default: 200 with a JSON echo. With `ssl_context` it
    serves over TLS, and `alpn` lists what each connection negotiated."""

    def __init__(self, handler=None, name="backend", ssl_context=None):
        self.name = name
        self.requests = []
        self.connections = 0
        self.alpn = []
        self._lock = threading.Lock()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out as two writes: without TCP_NODELAY, Nagle's algorithm
                # and the peer's delayed ACK add ~40 ms to every keep-alive response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with backend._lock:
                    backend.connections += 1
                    if ssl_context is not None:
                        backend.alpn.append(self.connection.selected_alpn_protocol())

            def log_message(self, *args):
                pass

            def _handle(self):
                length = self.headers.get("Content-Length")
                body = b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    body = b"".join(chunks)
                elif length:
                    body = self.rfile.read(int(length))
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "raw_headers": list(self.headers.items()),
                    "body": body,
                }
                with backend._lock:
                    backend.requests.append(request)
                if handler is None:
                    status, headers, out = 200, {"content-type": "application/json"}, json.dumps(
                        {"service": backend.name, "path": self.path, "headers": request["headers"], "body_len": len(body)}
                    ).encode()
                else:
                    status, headers, out = handler(request)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "content-length" not in {k.lower() for k in headers} and self.command != "HEAD":
                    self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD" and out:
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        self.server = _ThreadingServer(("127.0.0.1", 0), Handler)
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RawBackend:
    """A loopback TCP server whose every connection is handled by `behaviour(sock)` in a thread."""

    def __init__(self, behaviour):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.behaviour = behaviour
        self.connections = []
        self._closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.behaviour(conn)
        except OSError:
            pass

    def close(self):
        self._closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self.connections:
            try:
                c.close()
            except OSError:
                pass


def read_http_request(conn):
    """Reads one request head (and a Content-Length body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        rest += conn.recv(65536)
    return head


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def basic_config(backend_address, **overrides):
    """One outbound listener routing everything to cluster `backend`, one inbound listener
    forwarding to the same backend, TLS off, access log on stdout."""
    config = {
        "service": "test",
        "admin": {"listen": "127.0.0.1:0"},
        "drainTimeout": "5s",
        "outbound": [{"name": "egress", "listen": "127.0.0.1:0", "routes": [{"cluster": "backend"}]}],
        "inbound": [{"name": "public", "listen": "127.0.0.1:0", "tls": "disabled", "forwardTo": backend_address}],
        "clusters": [
            {
                "name": "backend",
                "tls": {"mode": "disabled"},
                "endpoints": [{"address": backend_address}],
            }
        ],
    }
    config.update(overrides)
    return config


def recv_all(sock):
    """Everything `sock` receives until the peer closes or the socket's timeout passes quietly."""
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    return out


def raw_request(port, data, timeout=5.0):
    """Sends raw bytes and returns everything the server answers until it closes (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = recv_all(s)
    s.close()
    return out


def scrape(sidecar):
    """Parses `GET /metrics` with prometheus_client's text parser: {(name, frozenset(labels)): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    status, data = sidecar.admin("GET", "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(data.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def metric(samples, name, **labels):
    """The value of one sample (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)

def raw_exchange(port, data, timeout=5.0):
    """Sends raw bytes; returns (everything answered, closed_by_server) once the server closes the
    connection or `timeout` passes without it closing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    closed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return out, closed


def parse_response_head(data):
    """Splits raw response bytes into (status, {lowercased header: value}, rest)."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def read_until(sock, marker, timeout=5.0):
    """Reads from `sock` until `marker` has arrived (or the peer closes); returns all bytes read."""
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def decode_chunked(body):
    """Decodes a complete chunked body; returns (payload, [trailer lines])."""
    payload = b""
    rest = body
    while True:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        payload += rest[:size]
        rest = rest[size + 2:]
    trailers = [t for t in rest.split(b"\r\n") if t]
    return payload, trailers

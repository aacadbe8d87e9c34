"""50 MiB bodies streamed through the sidecar in both directions: intact (hash) and with bounded
memory; a slow-reading client's backpressure reaches the backend."""

import hashlib
import http.client
import json
import os
import socket
import threading
import time

import pytest

from harness import AnonPeak, HTTPBackend, RawBackend, Sidecar, basic_config, read_http_request, wait_until

MiB = 1024 * 1024
SIZE = 50 * MiB
PIECE = 64 * 1024
# Peak growth of anonymous RSS (heap and buffers) allowed above the warmed-up baseline: far below
# the 50 MiB body. (VmRSS/VmHWM would also count the binary's code pages, which the sidecar drops
# after start-up and faults back in as code first runs, and a VmHWM baseline includes the
# start-up peak: a sidecar that buffered tens of MiB could stay under it.)
MAX_GROWTH_KIB = 8 * 1024


@pytest.fixture(scope="module")
def payload():
    data = os.urandom(SIZE)
    return data, hashlib.sha256(data).hexdigest()


def hashing_backend():
    def handler(request):
        body = request["body"]
        return 200, {"content-type": "application/json"}, json.dumps(
            {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body), "te": request["headers"].get("transfer-encoding"),
             "cl": request["headers"].get("content-length")}
        ).encode()

    return HTTPBackend(handler)


def streaming_config(address):
    config = basic_config(address)
    config["clusters"][0]["timeouts"] = {"request": "60s"}
    return config


def warm_up(sidecar):
    """One request with a body, so that pools and buffers exist before the baseline."""
    conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=30)
    conn.request("POST", "/warm", body=b"w" * MiB, headers={"Host": "backend"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200


def upload(sidecar, data, chunked):
    conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=60)
    headers = {"Host": "backend"}
    if not chunked:
        headers["Content-Length"] = str(len(data))

    def pieces():
        view = memoryview(data)
        for offset in range(0, len(data), PIECE):
            yield bytes(view[offset:offset + PIECE])

    conn.request("POST", "/upload", body=pieces(), headers=headers, encode_chunked=chunked)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, json.loads(body)


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_upload_50mib_intact_with_bounded_memory(payload, chunked):
    data, digest = payload
    backend = hashing_backend()
    sidecar = Sidecar(streaming_config(backend.address))
    try:
        warm_up(sidecar)
        with AnonPeak(sidecar) as memory:
            status, echo = upload(sidecar, data, chunked)
        assert status == 200
        assert echo["length"] == SIZE
        assert echo["sha256"] == digest
        if chunked:
            assert echo["te"] == "chunked"
        else:
            assert echo["cl"] == str(SIZE)
        assert memory.growth < MAX_GROWTH_KIB, f"anonymous RSS grew by {memory.growth} KiB for a {SIZE // MiB} MiB upload"
    finally:
        sidecar.stop()
        backend.close()


class StreamingBackend:
    """Answers every request with `data` as a chunked body, counting the bytes it managed to send."""

    def __init__(self, data):
        self.data = data
        self.sent = 0
        self.raw = RawBackend(self._serve)
        self.address = self.raw.address

    def _serve(self, conn):
        while read_http_request(conn) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            view = memoryview(self.data)
            for offset in range(0, len(self.data), PIECE):
                piece = view[offset:offset + PIECE]
                conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                self.sent = offset + len(piece)
            conn.sendall(b"0\r\n\r\n")

    def close(self):
        self.raw.close()


def open_download(sidecar, rcvbuf=None):
    conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=60)
    if rcvbuf:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(60)
        s.connect(("127.0.0.1", sidecar.outbound_port()))
        conn.sock = s
    conn.request("GET", "/download", headers={"Host": "backend"})
    resp = conn.getresponse()
    assert resp.status == 200
    return conn, resp


def read_rest(resp, hasher):
    total = 0
    while True:
        piece = resp.read(MiB)
        if not piece:
            return total
        hasher.update(piece)
        total += len(piece)


def read_slowly_then_stop(resp, hasher, backend, seconds):
    """A slow reader: 16 KiB every 10 ms for `seconds`, then no reading at all until `backend`
    (a `StreamingBackend`) has sent nothing for 0.5 s, i.e. backpressure has blocked it. Returns
    the bytes read (hashed into `hasher`)."""
    got = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        piece = resp.read(16 * 1024)
        hasher.update(piece)
        got += len(piece)
        time.sleep(0.01)  # behaviour: the client reads slowly
    last = [backend.sent, time.monotonic()]

    def stalled():
        now = time.monotonic()
        if backend.sent != last[0]:
            last[:] = [backend.sent, now]
            return False
        return now - last[1] >= 0.5

    wait_until(stalled, timeout=15, interval=0.05, message="the backend to be blocked by backpressure")
    return got


def test_download_50mib_chunked_intact_with_bounded_memory(payload):
    data, digest = payload
    backend = StreamingBackend(data)
    sidecar = Sidecar(streaming_config(backend.address))
    try:
        warm_up(sidecar)
        with AnonPeak(sidecar) as memory:
            conn, resp = open_download(sidecar)
            hasher = hashlib.sha256()
            assert read_rest(resp, hasher) == SIZE
            conn.close()
        assert hasher.hexdigest() == digest
        assert memory.growth < MAX_GROWTH_KIB, f"anonymous RSS grew by {memory.growth} KiB for a {SIZE // MiB} MiB download"
    finally:
        sidecar.stop()
        backend.close()


def test_slow_reader_backpressure_reaches_the_backend(payload):
    data, digest = payload
    backend = StreamingBackend(data)
    sidecar = Sidecar(streaming_config(backend.address))
    try:
        warm_up(sidecar)
        with AnonPeak(sidecar) as memory:
            conn, resp = open_download(sidecar, rcvbuf=64 * 1024)
            hasher = hashlib.sha256()
            got = read_slowly_then_stop(resp, hasher, backend, seconds=1.5)
            assert backend.sent < SIZE * 0.6, f"backend pushed {backend.sent / MiB:.1f} MiB while the client read {got / MiB:.1f} MiB"
            assert memory.growth < MAX_GROWTH_KIB, f"anonymous RSS grew by {memory.growth} KiB while the client was slow"
            got += read_rest(resp, hasher)
            conn.close()
            assert got == SIZE
            assert hasher.hexdigest() == digest
        assert memory.growth < MAX_GROWTH_KIB, f"anonymous RSS grew by {memory.growth} KiB at its peak"
    finally:
        sidecar.stop()
        backend.close()


def test_slow_backend_backpressure_reaches_the_uploader(payload):
    data, digest = payload
    gate = threading.Event()
    result = {}

    def behaviour(conn):
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        head, _, body = head.partition(b"\r\n\r\n")
        hasher = hashlib.sha256(body)
        got = len(body)
        until = time.monotonic() + 1.5
        while time.monotonic() < until:  # a slow application reading 16 KiB every 10 ms
            piece = conn.recv(16 * 1024)
            hasher.update(piece)
            got += len(piece)
            time.sleep(0.01)  # behaviour: the application reads slowly
        gate.wait(20)  # then it stops reading until the test has looked
        while got < SIZE:
            piece = conn.recv(MiB)
            if not piece:
                break
            hasher.update(piece)
            got += len(piece)
        result.update(sha256=hasher.hexdigest(), length=got)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    backend = RawBackend(behaviour)
    sidecar = Sidecar(streaming_config(backend.address))
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with AnonPeak(sidecar) as memory:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
            client.connect(("127.0.0.1", sidecar.outbound_port()))
            client.settimeout(60)
            sent = [0]

            def send():
                client.sendall(b"POST /up HTTP/1.1\r\nHost: backend\r\nContent-Length: %d\r\n\r\n" % SIZE)
                view = memoryview(data)
                for offset in range(0, SIZE, PIECE):
                    client.sendall(view[offset:offset + PIECE])
                    sent[0] = offset + PIECE

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            last = [sent[0], time.monotonic()]

            def stalled():
                now = time.monotonic()
                if sent[0] != last[0]:
                    last[:] = [sent[0], now]
                    return False
                return now - last[1] >= 0.5 and sent[0] > 0

            wait_until(stalled, timeout=15, interval=0.05, message="the uploader to be blocked by backpressure")
            assert sent[0] < SIZE * 0.6, f"the client pushed {sent[0] / MiB:.1f} MiB into a stalled backend"
            assert memory.growth < MAX_GROWTH_KIB, f"anonymous RSS grew by {memory.growth} KiB while the backend was slow"
            gate.set()
            sender.join(timeout=30)
            response = b""
            while b"ok" not in response:
                piece = client.recv(4096)
                if not piece:
                    break
                response += piece
            assert response.startswith(b"HTTP/1.1 200"), response
            assert result == {"sha256": digest, "length": SIZE}
        assert memory.growth < MAX_GROWTH_KIB, f"anonymous RSS grew by {memory.growth} KiB at its peak"
    finally:
        gate.set()
        client.close()
        sidecar.stop()
        backend.close()

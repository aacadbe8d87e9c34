"""The own HTTP/1 request parser (HTTP1RequestParser) and the downstream handler's input handling,
over raw sockets: memory stays bounded however reads split the input, and what reaches the
upstream is framed unambiguously. Each test failed on the parser's first version."""

import socket
import time

from harness import HTTPBackend, RawBackend, basic_config, raw_exchange, read_until, recv_all, wait_until


def _capturing_backend(captured):
    """Keeps all a connection sends until it has been quiet for 1 s (trailers included), then
    answers 200 and closes."""

    def behaviour(conn):
        conn.settimeout(1)
        captured.append(recv_all(conn))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    return RawBackend(behaviour)


def test_chunked_upload_read_boundaries_inside_size_lines_do_not_accumulate(start_sidecar):
    """Every read ends one byte into the next chunk-size line, so `input` is never empty and the
    consumed bytes in front of it are never dropped: the connection keeps all it ever read."""
    backend = HTTPBackend()
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"POST /up HTTP/1.1\r\nHost: backend\r\nTransfer-Encoding: chunked\r\n\r\n")
        before = peak = sidecar.anon_kib()
        size, sends = 8000, 3000  # 24 MB
        line = b"%x\r\n" % size
        payload = b"x" * size
        for i in range(sends):
            s.sendall((line[1:] if i else line) + payload + b"\r\n" + line[:1])
            time.sleep(0.003)  # behaviour under test: each send arrives as a read of its own
            if i % 100 == 99:
                peak = max(peak, sidecar.anon_kib())
        grown = peak - before
        s.sendall(line[1:] + payload + b"\r\n0\r\n\r\n")
        assert read_until(s, b"\r\n\r\n", timeout=10).startswith(b"HTTP/1.1 200")
        s.close()
        assert grown < 8 * 1024, f"anonymous RSS grew by {grown} KiB during a 24 MB streamed upload"
    finally:
        backend.close()


def test_content_length_list_is_not_forwarded_verbatim(start_sidecar):
    captured = []
    backend = _capturing_backend(captured)
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        data, _ = raw_exchange(
            sidecar.outbound_port(),
            b"POST /cl HTTP/1.1\r\nHost: backend\r\nConnection: close\r\nContent-Length: 3, 3\r\n\r\nabc",
            timeout=3,
        )
        if data.startswith(b"HTTP/1.1 400"):
            return  # rejected, as llhttp did
        wait_until(lambda: captured, message="the backend's capture")
        head = captured[0].split(b"\r\n\r\n")[0].lower()
        assert b"content-length: 3, 3" not in head, captured[0]
        assert b"content-length: 3\r\n" in head + b"\r\n", captured[0]
    finally:
        backend.close()


def test_framing_fields_in_request_trailers_are_not_forwarded(start_sidecar):
    captured = []
    backend = _capturing_backend(captured)
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        for trailer in (b"Content-Length: 99", b"Transfer-Encoding: gzip"):
            before = len(captured)
            data, _ = raw_exchange(
                sidecar.outbound_port(),
                b"POST /t HTTP/1.1\r\nHost: backend\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\n" + trailer + b"\r\n\r\n",
                timeout=3,
            )
            if data.startswith(b"HTTP/1.1 400"):
                continue  # rejected, as llhttp did
            wait_until(lambda: len(captured) > before, message="the backend's capture")
            sent = b"".join(captured[before:])
            assert trailer.lower() not in sent.lower(), sent
    finally:
        backend.close()


def test_empty_lines_split_at_cr_do_not_accumulate(start_sidecar):
    """No request, no upstream: empty lines whose every read ends on a lone CR keep `input`
    non-empty, so every byte of them stays in memory (and keeps the idle timer at bay)."""
    backend = HTTPBackend()
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        before = peak = sidecar.anon_kib()
        for i in range(3000):  # 24 MB of CRLFs
            s.sendall((b"\n" if i else b"") + b"\r\n" * 3999 + b"\r")
            time.sleep(0.003)  # behaviour under test: each send arrives as a read of its own
            if i % 100 == 99:
                peak = max(peak, sidecar.anon_kib())
        grown = peak - before
        s.sendall(b"\nGET / HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n")
        assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
        s.close()
        assert grown < 8 * 1024, f"anonymous RSS grew by {grown} KiB for 24 MB of empty lines"
    finally:
        backend.close()

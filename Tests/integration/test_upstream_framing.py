"""Upstream responses the sidecar parses itself (HTTP1ResponseParser): response splitting and
other framing the caller must never see, and local answers to HEAD without a body."""

import socket
import time

import pytest

from harness import RawBackend, basic_config, free_port, raw_exchange, read_http_request, read_until

SPLIT = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"29\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nINJECTD\r\n0\r\n\r\n"
)


def serving(response):
    """A backend that answers every request on a connection with `response`."""

    def behaviour(conn):
        while read_http_request(conn) is not None:
            conn.sendall(response)

    return behaviour


def no_retries(address):
    config = basic_config(address)
    config["clusters"][0]["retries"] = {"maxRetries": 0}
    return config


@pytest.mark.parametrize(
    "response",
    [
        SPLIT,  # both framings: the classic response splitting
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nINJECTD",  # a coding it cannot pass on
        b"HTTP/1.1 299 Fine\rHTTP/1.1 200 INJECTD\r\nContent-Length: 0\r\n\r\n",  # CR in the reason
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: INJECTD\r\n\r\n",  # never asked for
    ],
    ids=["te-and-cl", "te-and-bad-cl", "te-gzip", "cr-in-reason", "101"],
)
def test_ambiguous_or_unsafe_framing_is_502_and_nothing_of_it_reaches_the_caller(start_sidecar, response):
    raw = RawBackend(serving(response))
    try:
        sidecar = start_sidecar(no_retries(raw.address))
        request = b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n"
        out, _ = raw_exchange(sidecar.outbound_port(), request + request, timeout=3)
        assert out.startswith(b"HTTP/1.1 502 "), out
        assert b"x-sidecar-error: upstream_protocol_error" in out, out
        assert b"INJECTD" not in out and b"hello" not in out, out
    finally:
        raw.close()


def test_a_list_of_equal_content_lengths_is_passed_on_as_one_value(start_sidecar):
    raw = RawBackend(serving(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok"))
    try:
        sidecar = start_sidecar(no_retries(raw.address))
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n")
        data = read_until(s, b"\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        fields = [line.lower() for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
        assert fields == [b"content-length: 2"], head
        while len(body) < 2:
            body += s.recv(2 - len(body))
        assert body == b"ok"
        s.close()
    finally:
        raw.close()


def test_local_answer_to_head_has_no_body_and_the_connection_stays_in_step(start_sidecar):
    dead = f"127.0.0.1:{free_port()}"
    sidecar = start_sidecar(no_retries(dead))
    s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
    # HEAD then GET, pipelined: the HEAD answer (a sidecar-made 503) must end at its blank line.
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: backend\r\n\r\nGET / HTTP/1.1\r\nHost: backend\r\n\r\n")
    data = b""
    deadline = time.monotonic() + 5
    while data.count(b"HTTP/1.1 503") < 2 and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    first, sep, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 503"), data
    assert b"content-length:" in first.lower()
    # The next bytes are the GET's response head, not the HEAD's body.
    assert rest.startswith(b"HTTP/1.1 503"), data
    assert rest.count(b"upstream_connect_failure") >= 2, rest  # header and body of the GET's answer


def test_a_body_sent_after_a_head_response_never_reaches_the_next_request(start_sidecar):
    """An upstream that answers HEAD and sends a (wrong) body late, once the next request has
    come on the same connection: the connection is not pooled after HEAD, so the next request,
    which may be another caller's, cannot be answered with it."""

    def behaviour(conn):
        late_body = False
        while True:
            request = read_http_request(conn)
            if request is None:
                return
            if request.startswith(b"HEAD"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n")
                late_body = True
                continue
            if late_body:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nINJECTD")
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrealget")

    raw = RawBackend(behaviour)
    try:
        sidecar = start_sidecar(no_retries(raw.address))
        s = socket.create_connection(("127.0.0.1", sidecar.outbound_port()), timeout=5)
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: backend\r\n\r\n")
        first = read_until(s, b"\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 200"), first
        s.sendall(b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n")
        second = read_until(s, b"\r\n\r\n")
        while len(second.partition(b"\r\n\r\n")[2]) < 7:
            chunk = s.recv(65536)
            if not chunk:
                break
            second += chunk
        s.close()
        assert b"INJECTD" not in second, second
        assert second.endswith(b"realget"), second
    finally:
        raw.close()

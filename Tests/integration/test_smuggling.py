"""Request-smuggling and malformed-request attempts over raw sockets: each is answered
400 `downstream_protocol_error`, the connection is closed, and nothing reaches the backend."""

import pytest

from harness import HTTPBackend, basic_config, parse_response_head, raw_exchange, wait_until


@pytest.fixture(scope="module")
def proxy():
    from harness import Sidecar

    backend = HTTPBackend()
    config = basic_config(backend.address, limits={"maxHeaderBytes": "4KiB", "maxUriBytes": "1KiB"})
    sidecar = Sidecar(config)
    yield sidecar, backend
    sidecar.stop()
    backend.close()


CASES = {
    "content_length_with_transfer_encoding": (
        b"POST / HTTP/1.1\r\nHost: backend\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: backend\r\n\r\n"
    ),
    "two_different_content_lengths": (
        b"POST / HTTP/1.1\r\nHost: backend\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
    ),
    "two_different_content_lengths_in_one_field": (
        b"POST / HTTP/1.1\r\nHost: backend\r\nContent-Length: 5, 6\r\n\r\nhello!"
    ),
    "non_numeric_content_length": b"POST / HTTP/1.1\r\nHost: backend\r\nContent-Length: 5x\r\n\r\nhello",
    "negative_content_length": b"POST / HTTP/1.1\r\nHost: backend\r\nContent-Length: -1\r\n\r\n",
    "transfer_encoding_gzip_chunked": (
        b"POST / HTTP/1.1\r\nHost: backend\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    ),
    "transfer_encoding_chunked_identity": (
        b"POST / HTTP/1.1\r\nHost: backend\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
    ),
    "transfer_encoding_twice": (
        b"POST / HTTP/1.1\r\nHost: backend\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "invalid_chunk_size": (
        b"POST / HTTP/1.1\r\nHost: backend\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    ),
    "oversized_header_block": (
        b"GET / HTTP/1.1\r\nHost: backend\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 200) for i in range(30)) + b"\r\n"
    ),
    "oversized_uri": b"GET /" + b"u" * 2000 + b" HTTP/1.1\r\nHost: backend\r\n\r\n",
    "http11_without_host": b"GET / HTTP/1.1\r\nUser-Agent: test\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\nHost: backend\r\nHost: other\r\n\r\n",
    "bare_lf_line_endings": b"GET / HTTP/1.1\nHost: backend\n\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: backend\r\nX-Folded: a\r\n b\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost: backend\r\nContent-Length : 5\r\n\r\nhello",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_request_is_400_and_closed(proxy, name):
    sidecar, backend = proxy
    before = len(backend.requests)
    data, closed = raw_exchange(sidecar.outbound_port(), CASES[name], timeout=5)
    assert data, "no answer"
    status, headers, _ = parse_response_head(data)
    assert status == 400, data
    assert headers.get("x-sidecar-error") == "downstream_protocol_error", data
    assert headers.get("connection") == "close", data
    assert closed, "the sidecar kept the connection open"
    assert data.count(b"HTTP/1.1") == 1, data  # nothing smuggled behind it
    assert len(backend.requests) == before, backend.requests[before:]


def test_valid_request_still_proxied_after_attacks(proxy):
    sidecar, backend = proxy
    data, _ = raw_exchange(sidecar.outbound_port(), b"GET /fine HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n")
    status, _, _ = parse_response_head(data)
    assert status == 200
    wait_until(lambda: any(r["path"] == "/fine" for r in backend.requests))

"""The sidecar with its mesh hop over HTTP/2 (`protocol: auto` on the outbound cluster, which
the inbound sidecar answers with `h2` by ALPN): every request from the outbound sidecar to the
inbound one is a stream on one multiplexed mTLS connection, as linkerd2-proxy does between proxies. Compare with `haproxy-h2hop` and
`envoy-h2hop`, the same hop in those proxies."""

from . import sidecar

SPIFFE = sidecar.SPIFFE


def start(ctx):
    return sidecar.start(ctx, mesh_h2=True)

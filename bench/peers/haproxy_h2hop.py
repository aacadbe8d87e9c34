"""HAProxy with its mesh hop over HTTP/2 (`alpn h2` on the outbound server line and the inbound
bind): requests multiplexed over one mTLS connection, as `sidecar-h2hop` does."""

from . import haproxy

SPIFFE = haproxy.SPIFFE


def start(ctx):
    return haproxy.start(ctx, mesh_h2=True)

"""Envoy with its mesh hop over HTTP/2 (`http2_protocol_options` on the outbound cluster):
requests multiplexed over one mTLS connection, as `sidecar-h2hop` does."""

from . import envoy

SPIFFE = envoy.SPIFFE


def start(ctx):
    return envoy.start(ctx, mesh_h2=True)

"""No proxy: the load generator talks to the backend directly (the floor of every figure)."""

from . import Instance

SPIFFE = "n/a (no proxy)"


def start(ctx):
    return Instance(name="direct", port=ctx.backend_port, h2c_port=None, note="no proxy; no TLS")

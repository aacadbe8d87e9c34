"""The sidecar with every request traced (sampleRate 1.0) and exported over OTLP/HTTP to the
nginx backend: compare with `sidecar` in the same run for the cost of tracing."""

from . import sidecar

SPIFFE = sidecar.SPIFFE


def start(ctx):
    return sidecar.start(ctx, tracing=True)

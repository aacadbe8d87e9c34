"""The sidecar under test: `sidecar run --workers 1 --log-level warning`, access log off."""

import os

from . import Instance, Proc, free_port, peer_dir, render, wait_port

SPIFFE = "both hops: inbound `allow` (client URI SAN), outbound `expectIdentity` (server URI SAN)"


def start(ctx, tracing=None, mesh_h2=False):
    if tracing is None:
        tracing = os.environ.get("SIDECAR_TRACING") == "1"
    name = "sidecar-h2hop" if mesh_h2 else "sidecar-traced" if tracing else "sidecar"
    d = peer_dir(ctx, name)
    c = ctx.certs
    port, inbound_port = free_port(), free_port()
    values = dict(
        port=port, inbound_port=inbound_port, backend_port=ctx.backend_port, ca=c.ca,
        client_cert=c.cert("client"), client_key=c.key("client"), server_cert=c.cert("server"),
        server_key=c.key("server"), client_id=c.client_id, server_id=c.server_id,
        mesh_protocol="auto" if mesh_h2 else "http1",
    )
    inst = Instance(name=name, port=port, h2c_port=port, inbound_port=inbound_port)
    for role, listen in (("inbound", inbound_port), ("outbound", port)):
        cfg = render(f"sidecar-{role}.yaml", os.path.join(d, f"{role}.yaml"), **values)
        if tracing:
            # Every request traced (sampleRate 1.0) and exported over OTLP/HTTP to the nginx
            # backend, which answers 200 to any POST: measures the cost of tracing on the data path.
            with open(cfg, "a") as f:
                f.write(
                    "tracing:\n  sampleRate: 1.0\n"
                    f"  otlp: {{ endpoint: \"http://127.0.0.1:{ctx.backend_port}/v1/traces\", flushInterval: 1s }}\n"
                )
        p = Proc(f"sidecar-{role}", [ctx.sidecar_bin, "run", "--config", cfg, "--workers", "1", "--log-level", "warning"],
                 os.path.join(d, f"{role}.log"))
        inst.procs.insert(0, p) if role == "outbound" else inst.procs.append(p)
        wait_port(listen, [p], ctx.start_timeout, f"sidecar {role} listener")
    return inst

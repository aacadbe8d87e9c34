"""HAProxy: one process, `nbthread 1`, foreground (`-db`)."""

import os

from . import Instance, Proc, free_port, peer_dir, render, wait_port

SPIFFE = ("inbound only, approximately: `tcp-request session` byte match of the URI-SAN encoding in the "
          "verified client cert (2.6 has no SAN fetch); outbound checks the server's DNS SAN (verifyhost), not its SPIFFE ID")


def san_uri_hex(uri):
    """DER of GeneralName uniformResourceIdentifier ([6] IMPLICIT IA5String) as uppercase hex."""
    raw = uri.encode()
    if len(raw) >= 128:
        raise ValueError("URI too long for the short-form length this match uses")
    return (bytes([0x86, len(raw)]) + raw).hex().upper()


def start(ctx, mesh_h2=False):
    name = "haproxy-h2hop" if mesh_h2 else "haproxy"
    d = peer_dir(ctx, name)
    c = ctx.certs
    port, inbound_port = free_port(), free_port()
    values = dict(
        port=port, inbound_port=inbound_port, backend_port=ctx.backend_port, ca=c.ca,
        client_bundle=c.bundle("client"), server_bundle=c.bundle("server"), client_san_hex=san_uri_hex(c.client_id),
        # The mesh hop over HTTP/2: ALPN h2 offered by the server line, accepted by the bind.
        server_alpn=" alpn h2" if mesh_h2 else "", bind_alpn=" alpn h2,http/1.1" if mesh_h2 else "",
    )
    inst = Instance(name=name, port=port, h2c_port=port, inbound_port=inbound_port)
    for role, listen in (("inbound", inbound_port), ("outbound", port)):
        cfg = render(f"haproxy-{role}.cfg", os.path.join(d, f"{role}.cfg"), **values)
        p = Proc(f"haproxy-{role}", ["haproxy", "-db", "-f", cfg], os.path.join(d, f"{role}.log"))
        inst.procs.insert(0, p) if role == "outbound" else inst.procs.append(p)
        wait_port(listen, [p], ctx.start_timeout, f"haproxy {role} listener")
    return inst

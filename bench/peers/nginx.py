"""nginx (nginx-light): one process (`master_process off`, `worker_processes 1`), foreground."""

import os

from . import Instance, Proc, free_port, peer_dir, render, wait_port

SPIFFE = ("no: inbound requires a client cert chaining to the CA and checks its subject CN; outbound checks "
          "the server's DNS SAN (proxy_ssl_verify + proxy_ssl_name). nginx cannot read a URI SAN")


def start(ctx):
    d = peer_dir(ctx, "nginx")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    c = ctx.certs
    port, inbound_port, h2c_port = free_port(), free_port(), free_port()
    values = dict(
        dir=d, port=port, inbound_port=inbound_port, h2c_port=h2c_port, backend_port=ctx.backend_port, ca=c.ca,
        client_cert=c.cert("client"), client_key=c.key("client"), server_cert=c.cert("server"), server_key=c.key("server"),
    )
    inst = Instance(name="nginx", port=port, h2c_port=h2c_port, inbound_port=inbound_port,
                    note="h2c on a second outbound listener (1.22 cannot serve HTTP/1.1 and h2c on one port)")
    for role, listen in (("inbound", inbound_port), ("outbound", port)):
        cfg = render(f"nginx-{role}.conf", os.path.join(d, f"{role}.conf"), **values)
        p = Proc(f"nginx-{role}", ["nginx", "-p", d, "-c", cfg, "-e", os.path.join(d, f"{role}-error.log")],
                 os.path.join(d, f"{role}.log"))
        inst.procs.insert(0, p) if role == "outbound" else inst.procs.append(p)
        wait_port(listen, [p], ctx.start_timeout, f"nginx {role} listener")
    return inst


def start_backend(workdir, port, body):
    """The backend every peer forwards to (also an nginx, one process)."""
    d = os.path.join(workdir, "backend")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    cfg = render("nginx-backend.conf", os.path.join(d, "backend.conf"), dir=d, port=port, body=body)
    p = Proc("backend-nginx", ["nginx", "-p", d, "-c", cfg, "-e", os.path.join(d, "backend-error.log")],
             os.path.join(d, "backend.log"))
    wait_port(port, [p], 15, "backend")
    return p

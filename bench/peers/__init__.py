"""The peers of the mesh-hop benchmark.

A peer is a function `start(ctx) -> Instance` that starts its two proxy processes:

    load generator -> OUTBOUND (plaintext HTTP/1.1 listener, originates mTLS)
                   -> INBOUND  (terminates mTLS, checks the client's identity)
                   -> backend  (nginx, fixed ~100-byte 200, keep-alive)

`direct` starts nothing and points the load generator at the backend. Each proxy process gets
one worker/thread; both hops reuse connections. Config templates are in peers/templates/."""

import os
import shutil
import subprocess
from dataclasses import dataclass, field

from .common import PeerError, Proc, free_port, render, wait_port  # noqa: F401


@dataclass
class Certs:
    """A mesh CA plus SPIFFE leaves made by `sidecar certs`: the outbound proxy is `client`,
    the inbound proxy is `server`; `impostor` chains to the same CA and has the same CN/DNS
    name as `client` but another SPIFFE ID (used to see which peers really check the ID)."""

    dir: str
    trust_domain: str = "mesh.local"

    def spiffe(self, name):
        return f"spiffe://{self.trust_domain}/ns/default/sa/{name}"

    @property
    def ca(self):
        return os.path.join(self.dir, "ca.pem")

    def cert(self, name):
        return os.path.join(self.dir, f"{name}.pem")

    def key(self, name):
        return os.path.join(self.dir, f"{name}-key.pem")

    def bundle(self, name):
        """Certificate chain and key in one file (HAProxy's `crt`)."""
        return os.path.join(self.dir, f"{name}-bundle.pem")

    @property
    def client_id(self):
        return self.spiffe("client")

    @property
    def server_id(self):
        return self.spiffe("server")

    @property
    def impostor_id(self):
        return f"spiffe://{self.trust_domain}/ns/impostor/sa/client"

    @property
    def impostor_cert(self):
        return os.path.join(self.dir, "impostor", "client.pem")

    @property
    def impostor_key(self):
        return os.path.join(self.dir, "impostor", "client-key.pem")


def make_certs(sidecar_bin, directory):
    os.makedirs(directory, exist_ok=True)
    certs = Certs(directory)

    def run(*args):
        r = subprocess.run([sidecar_bin, "certs", *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise PeerError(f"sidecar certs {' '.join(args)} failed ({r.returncode}): {r.stderr}{r.stdout}")

    run("init", "--dir", directory, "--trust-domain", certs.trust_domain)
    for name in ("client", "server"):
        run("issue", "--dir", directory, "--name", name)
        with open(certs.bundle(name), "w") as out:
            for part in (certs.cert(name), certs.key(name)):
                with open(part) as f:
                    out.write(f.read())
    imp = os.path.join(directory, "impostor")
    os.makedirs(imp, exist_ok=True)
    for f in ("ca.pem", "ca-key.pem"):
        shutil.copy(os.path.join(directory, f), imp)
    run("issue", "--dir", imp, "--name", "client", "--spiffe-id", certs.impostor_id)
    return certs


@dataclass
class Context:
    """What a peer needs to start: where to write, certificates, the backend, binaries."""

    workdir: str
    certs: Certs
    backend_port: int
    sidecar_bin: str
    envoy_bin: str
    start_timeout: float = 30.0


@dataclass
class Instance:
    name: str
    port: int                      # where the load generator sends HTTP/1.1 (outbound listener)
    h2c_port: int = None           # where h2load sends h2c with prior knowledge (None: not offered)
    inbound_port: int = None       # the mTLS listener of the inbound proxy
    procs: list = field(default_factory=list)   # [outbound, inbound]
    checks: dict = field(default_factory=dict)  # filled by the harness's preflight
    note: str = ""

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


def peer_dir(ctx, name):
    d = os.path.join(ctx.workdir, name)
    os.makedirs(d, exist_ok=True)
    return d


from . import direct, envoy, envoy_h2hop, haproxy, haproxy_h2hop, nginx, sidecar, sidecar_h2hop, sidecar_traced  # noqa: E402

PEERS = {
    "direct": direct,
    "sidecar": sidecar,
    "sidecar-traced": sidecar_traced,
    "envoy": envoy,
    "haproxy": haproxy,
    "nginx": nginx,
    # The same topology with the hop between the two proxies over HTTP/2 (one multiplexed mTLS
    # connection instead of a pool of HTTP/1.1 ones), each proxy configured for it.
    "sidecar-h2hop": sidecar_h2hop,
    "envoy-h2hop": envoy_h2hop,
    "haproxy-h2hop": haproxy_h2hop,
}

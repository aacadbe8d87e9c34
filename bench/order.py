#!/usr/bin/env python3
"""Writes bench/hot-functions.order: the functions the sidecar runs once start-up is over, hottest
first, for the release link (`lld --symbol-ordering-file`, see the Makefile's RELEASE_FLAGS).

Why: a page of the executable's code is mapped when first touched, together with its neighbours
(the kernel's "fault-around": 64 KiB windows, which MADV_RANDOM does not turn off on 6.x kernels).
Left where the compiler put them, the ~2,500 functions a proxy runs are spread over 21 MiB of
code, and every window they touch stays resident. Laid out together, they take a few windows.

How: both sidecars of the mesh hop (outbound and inbound) run under callgrind, once with the hop
over HTTP/1.1 and once over HTTP/2; counting is zeroed
once start-up is over, then the measured window runs the first request and the traffic the
benchmark runs (HTTP/1.1 with 8 connections and with 1, then h2c with multiplexed streams, new
connections included), then a quiet spell. Every function with instructions in that window is listed, by
instructions, both processes summed. Missing or renamed symbols only cost layout (the linker is
told not to warn), so a stale file degrades gracefully; regenerate it (`make order`) after
changes to the data path.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

from peers import make_certs  # noqa: E402
from peers.common import Proc, free_port, render, wait_port  # noqa: E402
from peers.nginx import start_backend  # noqa: E402
from profile import function_self_costs, h1_load  # noqa: E402
from run import BODY, http_check  # noqa: E402


# Longer than the heap trimmer's period (5 s) twice over, so a quiet-spell trim runs in the window.
QUIET_SECONDS = 12


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sidecar-bin", default=os.path.join(os.path.dirname(BENCH), ".build", "release", "sidecar"))
    parser.add_argument("--output", default=os.path.join(BENCH, "hot-functions.order"))
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="sidecar-order-")
    # valgrind 3.19 cannot read the toolchain's DWARF 5: a copy without it (symbols kept).
    binary = os.path.join(workdir, "sidecar-nodebug")
    subprocess.run(["objcopy", "--strip-debug", args.sidecar_bin, binary], check=True)
    certs = make_certs(args.sidecar_bin, os.path.join(workdir, "certs"))
    backend_port = free_port()
    start_backend(workdir, backend_port, BODY)
    procs = []
    outbound_ports = []
    try:
        # Both hops the benchmark runs: a pool of HTTP/1.1 connections between the sidecars, and
        # HTTP/2 (the `*-h2hop` peers), each a pair of sidecars of its own.
        for mesh in ("http1", "http2"):
            port, inbound_port = free_port(), free_port()
            values = dict(port=port, inbound_port=inbound_port, backend_port=backend_port, ca=certs.ca,
                          client_cert=certs.cert("client"), client_key=certs.key("client"),
                          server_cert=certs.cert("server"), server_key=certs.key("server"),
                          client_id=certs.client_id, server_id=certs.server_id, mesh_protocol=mesh)
            for role, listen in (("inbound", inbound_port), ("outbound", port)):
                name = f"{role}-{mesh}"
                cfg = render(f"sidecar-{role}.yaml", os.path.join(workdir, f"{name}.yaml"), **values)
                proc = Proc(name, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/{name}.callgrind",
                                   binary, "run", "--config", cfg, "--workers", "1", "--log-level", "warning"],
                            os.path.join(workdir, f"{name}.log"))
                procs.append(proc)
                wait_port(listen, [proc], 300, f"{name} listener")
            outbound_ports.append(port)
        # Counted from before the first request: what runs once per process on first use (lazy
        # metadata, the first upstream connection and handshake) stays resident too.
        for proc in procs:
            subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True, capture_output=True)
        for port in outbound_ports:
            error = http_check(port, 120)
            if error:
                sys.exit(f"request through both hops failed: {error}")
            print(h1_load(port, 1000, 8)[1], flush=True)
            print(h1_load(port, 200, 1)[1], flush=True)
            subprocess.run(["h2load", "-n", "1000", "-c", "4", "-m", "8", f"http://127.0.0.1:{port}/"],
                           check=True, capture_output=True, timeout=600)
        # A quiet spell too: what runs in the background (the heap and code trimmers after load,
        # timers, the event loops' idle turns) is resident whenever the process is.
        time.sleep(QUIET_SECONDS)
        for proc in procs:
            subprocess.run(["callgrind_control", "--dump=measured", str(proc.pid)], check=True, capture_output=True)
        time.sleep(1)
    finally:
        for proc in reversed(procs):
            proc.stop(timeout=60)

    cost = collections.Counter()
    for name in os.listdir(workdir):
        if re.match(r"(inbound|outbound)-http[12]\.callgrind\.\d+$", name):
            for function, instructions in function_self_costs(os.path.join(workdir, name)).items():
                cost[re.sub(r"'\d+$", "", function.strip())] += instructions  # recursion levels as one
    # Only symbols of the executable matter (shared libraries' are ignored by the linker); names
    # callgrind could not resolve are addresses.
    ordered = [name for name, instructions in cost.most_common()
               if instructions > 0 and not name.startswith("0x") and " " not in name]
    with open(args.output, "w") as out:
        out.write("".join(name + "\n" for name in ordered))
    print(f"{len(ordered)} functions written to {args.output}")


if __name__ == "__main__":
    main()

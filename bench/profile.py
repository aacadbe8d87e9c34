#!/usr/bin/env python3
"""Where the sidecar spends its CPU in the mesh-hop topology.

    h2load --h1 (fixed request count) -> OUTBOUND sidecar (profiled) -> mTLS -> INBOUND sidecar -> nginx backend

Profilers (PROFILER=auto|callgrind|perf, default auto):
  callgrind  valgrind --tool=callgrind on the outbound sidecar (instruction counts, repeatable);
             profiling is zeroed after the warm-up and dumped right after the fixed load, so the
             counts cover exactly PROFILE_REQUESTS requests. The binary is profiled from a copy
             without DWARF (valgrind 3.19 cannot read the toolchain's DWARF 5).
  perf       `perf record -e cpu-clock -g` sampling of the outbound sidecar during the same load
             (this VM has no hardware counters, so `perf stat -e instructions` is unsupported).
  auto       callgrind, and perf if valgrind cannot run the sidecar (valgrind 3.19 crashes on it
             here: libdispatch's dispatchMain() exits the main thread while workers start).

Prints the top functions (self and inclusive) demangled with `swift demangle --simplified`,
and writes them to bench/results/profile-latest.txt (raw data in bench/results/raw/).
Settings: PROFILER, PROFILE_REQUESTS=50000 (2000 under callgrind), PROFILE_CONNECTIONS=8, TOP=40.
"""

import argparse
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

from peers import PeerError, make_certs  # noqa: E402
from peers.common import Proc, _pdeathsig, free_port, render, stop_all, wait_port  # noqa: E402
from peers.nginx import start_backend  # noqa: E402
from run import BODY, http_check  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def demangle(text):
    tool = shutil.which("swift")
    if not tool:
        return text
    r = subprocess.run([tool, "demangle", "--simplified"], input=text, capture_output=True, text=True)
    out = r.stdout if r.returncode == 0 and r.stdout else text
    return "\n".join(line.rstrip() for line in out.splitlines())


def h1_load(port, n, c):
    argv = ["h2load", "--h1", "-n", str(n), "-c", str(c), "-t", "1", f"http://127.0.0.1:{port}/"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=1800, preexec_fn=_pdeathsig)
    lines = [line for line in r.stdout.splitlines() if line.startswith(("finished", "requests:", "status codes:"))]
    return " ".join(argv), "\n".join(lines)


def start_topology(workdir, sidecar_bin, wrapper, outbound_bin, timeout):
    certs = make_certs(sidecar_bin, os.path.join(workdir, "certs"))
    backend_port = free_port()
    start_backend(workdir, backend_port, BODY)
    port, inbound_port = free_port(), free_port()
    values = dict(port=port, inbound_port=inbound_port, backend_port=backend_port, ca=certs.ca,
                  client_cert=certs.cert("client"), client_key=certs.key("client"), server_cert=certs.cert("server"),
                  server_key=certs.key("server"), client_id=certs.client_id, server_id=certs.server_id,
                  mesh_protocol=os.environ.get("PROFILE_MESH", "http1"))
    procs = []
    cfg = render("sidecar-inbound.yaml", os.path.join(workdir, "inbound.yaml"), **values)
    procs.append(Proc("sidecar-inbound", [sidecar_bin, "run", "--config", cfg, "--workers", "1", "--log-level", "warning"],
                      os.path.join(workdir, "inbound.log")))
    wait_port(inbound_port, procs, 30, "sidecar inbound listener")
    cfg = render("sidecar-outbound.yaml", os.path.join(workdir, "outbound.yaml"), **values)
    out = Proc("sidecar-outbound", wrapper + [outbound_bin, "run", "--config", cfg, "--workers", "1", "--log-level", "warning"],
               os.path.join(workdir, "outbound.log"))
    procs.append(out)
    wait_port(port, [out], timeout, "profiled outbound listener")
    err = http_check(port, 20)
    if err:
        raise PeerError(f"request through both hops failed: {err}\n{out.log_text()}")
    return port, out, procs


def profile_callgrind(args, workdir, raw_base):
    stripped = os.path.join(workdir, "sidecar-nodebug")
    subprocess.run(["objcopy", "--strip-debug", args.sidecar_bin, stripped], check=True)
    out_file = os.path.join(workdir, "callgrind.out")
    wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}"]
    port, out, procs = start_topology(workdir, args.sidecar_bin, wrapper, stripped, 300)
    h1_load(port, 200, args.connections)  # warm-up: pools, caches, lazy initialisation
    subprocess.run(["callgrind_control", "--zero", str(out.pid)], check=True, capture_output=True)
    cmd, summary = h1_load(port, args.requests, args.connections)
    subprocess.run(["callgrind_control", "--dump=measured", str(out.pid)], check=True, capture_output=True)
    time.sleep(1)
    for p in reversed(procs):
        p.stop(timeout=30)
    dumps = sorted(f for f in os.listdir(workdir) if f.startswith("callgrind.out") and f != "callgrind.out")
    dump = os.path.join(workdir, dumps[0]) if dumps else out_file
    shutil.copy(dump, raw_base + ".callgrind")
    total = ""
    with open(dump) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = line.split()[1]
    ir = int(total) if total.isdigit() else 0
    head = [f"callgrind, outbound sidecar, {cmd}", summary,
            f"instructions (Ir) in the measured window: {ir:,} = {ir / max(args.requests, 1):,.0f} per request", ""]
    incl_view = subprocess.run(["callgrind_annotate", "--inclusive=yes", dump], capture_output=True, text=True).stdout

    def top(view):
        lines = [line for line in view.splitlines() if line.strip() and line.strip()[0].isdigit()]
        return "\n".join(lines[: args.top + 1])

    return "\n".join(head + ["## self (exclusive) instructions", demangle(self_costs(dump, args.top)), "",
                             "## inclusive instructions", demangle(top(incl_view))])


def function_self_costs(dump):
    """Per-function self cost (instructions) by name, read from the callgrind file itself:
    callgrind_annotate 3.19 folds every function of a binary without debug information into one
    entry. (bench/order.py reads its dumps with this too.)"""
    names, costs = {}, {}
    current, in_call = None, False
    with open(dump, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            match = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
            if match:
                if match.group(3):
                    names[match.group(2)] = match.group(3)
                if match.group(1) == "fn":
                    current = match.group(2)
                continue
            if line.startswith("calls="):
                in_call = True  # the next cost line is the call's inclusive cost, not self cost
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                if in_call:
                    in_call = False
                elif current is not None:
                    parts = line.split()
                    if len(parts) > 1:
                        costs[current] = costs.get(current, 0) + int(parts[1])
    return {names.get(fid, fid): cost for fid, cost in costs.items()}


def self_costs(dump, count):
    costs = function_self_costs(dump)
    total = sum(costs.values()) or 1
    rows = sorted(costs.items(), key=lambda item: -item[1])[:count]
    return "\n".join(f"{cost:>14,} ({100 * cost / total:5.2f}%)  {name}" for name, cost in rows)


def profile_perf(args, workdir, raw_base):
    port, out, procs = start_topology(workdir, args.sidecar_bin, [], args.sidecar_bin, 30)
    h1_load(port, 2000, args.connections)  # warm-up
    data = raw_base + ".perf.data"
    rec = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-o", data, "-p", str(out.pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           preexec_fn=_pdeathsig)
    try:
        time.sleep(0.5)
        cmd, summary = h1_load(port, args.requests, args.connections)
    finally:
        rec.send_signal(signal.SIGINT)
        try:
            rec.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rec.kill()
            rec.wait()
    for p in reversed(procs):
        p.stop()

    def report(*extra):
        r = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", "--percent-limit", "0.3", *extra],
                           capture_output=True, text=True)
        lines = [re.sub(r"(\s+-)+\s*$", "", line.rstrip()) for line in r.stdout.splitlines()
                 if line.strip() and not line.startswith("#")]
        return "\n".join(lines[: args.top])

    head = [f"perf cpu-clock sampling (999 Hz, call graphs), outbound sidecar, {cmd}", summary,
            "percentages are of the outbound sidecar's on-CPU samples during the load; [k] = kernel", ""]
    return "\n".join(head + [
        "## by shared object", report("--no-children", "--sort", "dso"), "",
        "## self (exclusive)", demangle(report("--no-children", "--sort", "dso,symbol")), "",
        "## inclusive (children included)", demangle(report("--children", "--sort", "symbol")),
    ])


def main():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profiler", default=env("PROFILER", "auto"), choices=["auto", "callgrind", "perf"])
    p.add_argument("--requests", type=int, default=int(env("PROFILE_REQUESTS", "0")))
    p.add_argument("--connections", type=int, default=int(env("PROFILE_CONNECTIONS", "8")))
    p.add_argument("--top", type=int, default=int(env("TOP", "40")))
    p.add_argument("--sidecar-bin", default=env("SIDECAR_BIN", os.path.join(ROOT, ".build", "release", "sidecar")))
    p.add_argument("--results", default=env("RESULTS_DIR", os.path.join(BENCH, "results")))
    args = p.parse_args()
    args.sidecar_bin = os.path.abspath(args.sidecar_bin)
    for tool in ("h2load", "nginx"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: run `make profile` (installs it)")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(SystemExit(143)))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d_%H%M%S")
    raw_dir = os.path.join(args.results, "raw")
    os.makedirs(raw_dir, exist_ok=True)
    raw_base = os.path.join(raw_dir, f"profile-{stamp}")
    order = {"auto": ["callgrind", "perf"], "callgrind": ["callgrind"], "perf": ["perf"]}[args.profiler]
    text = None
    for tool in order:
        workdir = tempfile.mkdtemp(prefix=f"sidecar-profile-{tool}-")
        args.requests_eff = args.requests
        if not args.requests:
            args.requests = 2000 if tool == "callgrind" else 50000
        log(f"profiling with {tool} ({args.requests} requests, workdir {workdir})")
        try:
            text = (profile_callgrind if tool == "callgrind" else profile_perf)(args, workdir, raw_base)
            shutil.rmtree(workdir, ignore_errors=True)
            break
        except (PeerError, subprocess.CalledProcessError, OSError) as e:
            msg = str(e)
            if tool == "callgrind" and ("VALGRIND INTERNAL ERROR" in msg or "impossible" in msg):
                msg = ("valgrind cannot run the sidecar (internal SIGSEGV: valgrind 3.19 and libdispatch's dispatchMain() "
                       "exiting the main thread); logs in " + workdir)
            log(f"{tool} failed: {msg[-3000:]}")
            args.requests = args.requests_eff
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            stop_all()
    if text is None:
        log("no profiler worked")
        return 1
    print(text)
    for path in (raw_base + ".txt", os.path.join(args.results, "profile-latest.txt")):
        with open(path, "w") as f:
            f.write(text + "\n")
    print(f"\nwritten: bench/results/profile-latest.txt (raw data: {os.path.relpath(raw_base, ROOT)}.*)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

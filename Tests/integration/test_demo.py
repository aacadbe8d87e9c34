"""`sidecar demo`: the whole mesh on one machine in one command (issue 9). Runs the real binary
non-interactively, checks its summary line, and checks that no `sidecar run` it started is left,
after a normal end and after SIGINT halfway."""

import os
import re
import signal
import subprocess
import time

from harness import SIDECAR_BIN, wait_until

SUMMARY = re.compile(r"^summary: (.*)$", re.M)


def parse_summary(output):
    m = SUMMARY.search(output)
    assert m, f"no summary line in:\n{output}"
    fields = dict(item.split("=", 1) for item in m.group(1).split())
    return fields


def percent(value):
    assert value.endswith("%"), value
    return float(value[:-1])


def sidecar_runs_under(directory):
    """PIDs of live `sidecar run` processes whose config is in `directory`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if b"run" in args and any(a.startswith(directory.encode()) for a in args):
            pids.append(int(entry))
    return pids


def start_demo(duration):
    return subprocess.Popen(
        [SIDECAR_BIN, "demo", "--duration", str(duration)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_demo_runs_the_whole_mesh_and_leaves_nothing_behind():
    proc = start_demo(5)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    s = parse_summary(out)
    assert s["mtls"] == "yes", out
    assert int(s["sidecars"]) == 5
    assert int(s["requests"]) > 50, out
    # Retries and ejection buy the frontend a better success rate than the flaky replica's own.
    assert percent(s["success_rate"]) > 100 - percent(s["flaky_failure_rate"]), out
    assert percent(s["flaky_failure_rate"]) > 5, out
    assert int(s["ejections"]) >= 1, out
    assert int(s["retries"]) >= 1, out
    assert int(s["endpoint_pushes"]) >= 1, out
    assert int(s["traces_with_multiple_sidecars"]) >= 1, out
    ok, total = s["ledger_http2_ok"].split("/")
    assert int(total) > 0 and ok == total, out
    assert "sample trace" in out and "SERVER" in out and "CLIENT" in out, out
    # Plain output when not a terminal: no ANSI escapes.
    assert "\x1b[" not in out
    configs = s["configs"]
    for name in ["frontend", "payments-1", "payments-2", "payments-3", "ledger"]:
        assert os.path.exists(os.path.join(configs, f"{name}.yaml"))
    assert os.path.exists(os.path.join(configs, "certs", "ca.pem"))
    # The kept configs are valid as they are.
    check = subprocess.run([SIDECAR_BIN, "validate", "--config", os.path.join(configs, "frontend.yaml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert sidecar_runs_under(configs) == []


def test_demo_interrupted_with_sigint_stops_every_sidecar():
    proc = start_demo(30)
    lines = []
    directory = None
    # Read until traffic is flowing (the first per-second line), then interrupt.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"configs, certificates and logs go to (\S+)", line)
        if m:
            directory = m.group(1)
        if line.startswith("t=2s"):
            break
    assert directory, "".join(lines)
    assert len(sidecar_runs_under(directory)) == 5, "".join(lines)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest
    wait_until(lambda: sidecar_runs_under(directory) == [], timeout=5, message="no sidecar left")


def test_demo_children_drain_when_the_demo_is_killed():
    proc = start_demo(30)
    directory = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"configs, certificates and logs go to (\S+)", line)
        if m:
            directory = m.group(1)
        if line.startswith("t=1s"):
            break
    assert directory
    assert len(sidecar_runs_under(directory)) == 5
    proc.kill()  # SIGKILL: the demo cannot clean up; each child sees its parent gone and drains.
    proc.wait()
    wait_until(lambda: sidecar_runs_under(directory) == [], timeout=10, message="children to drain after the demo died")

"""The command line (CONTRACT section 1): validate, run's exit codes, SIDECAR_CONFIG, version."""

import json
import os
import re
import socket
import subprocess
import tempfile

from harness import SIDECAR_BIN, LISTENING, Sidecar, basic_config, wait_until


def write_config(text_or_dict, suffix=".yaml"):
    fd, path = tempfile.mkstemp(prefix="sidecar-cli-", suffix=suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text_or_dict if isinstance(text_or_dict, str) else json.dumps(text_or_dict))
    return path


def run_cli(*args, env=None, timeout=20):
    environment = {k: v for k, v in os.environ.items() if k != "SIDECAR_CONFIG"}
    environment.update(env or {})
    return subprocess.run([SIDECAR_BIN, *args], capture_output=True, text=True, env=environment, timeout=timeout)


VALID = """\
service: orders
inbound:
  - listen: 127.0.0.1:15006
    tls: disabled
    forwardTo: 127.0.0.1:8080
outbound:
  - listen: 127.0.0.1:15001
    routes:
      - cluster: payments
clusters:
  - name: payments
    tls: { mode: disabled }
    endpoints:
      - { address: 127.0.0.1:9001 }
"""

INVALID_TWO_PROBLEMS = """\
service: orders
outbound:
  - listen: 127.0.0.1:15001
    routes:
      - cluster: payments
clusters:
  - name: payments
    tls: { mode: disabled }
    retries: { backoff: { base: soon } }
    endpoints:
      - { address: 127.0.0.1:9001 }
    endpiontz: []
"""


def test_validate_valid_file():
    result = run_cli("validate", "--config", write_config(VALID))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert "orders" in lines[0]
    assert "Traceback" not in result.stderr and "Fatal error" not in result.stderr


def test_validate_invalid_file_prints_every_problem():
    result = run_cli("validate", "--config", write_config(INVALID_TWO_PROBLEMS))
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert any(re.match(r'^clusters\[0\]\.retries\.backoff\.base: expected a duration like "25ms"$', l) for l in output), output
    assert any(re.match(r"^clusters\[0\]\.endpiontz: .+", l) for l in output), output
    for line in output:
        assert re.match(r"^[A-Za-z0-9_\[\]\.]+: .+", line), f"not PATH: message: {line!r}"
    assert "Fatal error" not in result.stderr


def test_validate_unparsable_yaml_is_exit_1_without_stack_trace():
    result = run_cli("validate", "--config", write_config("service: [unclosed\n"))
    assert result.returncode == 1
    assert result.stderr.strip()
    assert "Fatal error" not in result.stderr and "Stack dump" not in result.stderr


def test_validate_missing_file_is_exit_1():
    result = run_cli("validate", "--config", "/nonexistent/sidecar.yaml")
    assert result.returncode == 1
    assert "/nonexistent/sidecar.yaml" in result.stderr


def test_run_without_config_is_exit_1():
    result = run_cli("run")
    assert result.returncode == 1
    assert "--config" in result.stderr or "SIDECAR_CONFIG" in result.stderr


def test_run_with_port_in_use_is_exit_2_naming_the_port():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        config = basic_config("127.0.0.1:9")
        config["outbound"][0]["listen"] = f"127.0.0.1:{port}"
        result = run_cli("run", "--config", write_config(config, ".json"), "--workers", "1")
        assert result.returncode == 2, (result.returncode, result.stderr)
        lines = [l for l in result.stderr.splitlines() if l.strip()]
        assert len(lines) == 1, lines
        assert str(port) in lines[0]
        assert "in use" in lines[0]
    finally:
        taken.close()


def test_sidecar_config_env_is_used(backend):
    path = write_config(basic_config(backend.address), ".json")
    environment = {**{k: v for k, v in os.environ.items() if k != "SIDECAR_CONFIG"}, "SIDECAR_CONFIG": path}
    proc = subprocess.Popen([SIDECAR_BIN, "run", "--workers", "1"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=environment)
    try:
        names = set()
        for line in proc.stderr:
            m = LISTENING.match(line.rstrip("\n"))
            if m:
                names.add(m.group(1))
            if {"admin", "outbound/egress", "inbound/public"} <= names:
                break
        assert {"admin", "outbound/egress", "inbound/public"} <= names
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_validate_uses_sidecar_config_env():
    result = run_cli("validate", env={"SIDECAR_CONFIG": write_config(VALID)})
    assert result.returncode == 0, result.stderr
    assert "orders" in result.stdout


def test_version_prints_three_versions():
    result = run_cli("version")
    assert result.returncode == 0
    out = result.stdout
    assert re.search(r"sidecar \d+\.\d+\.\d+", out), out
    assert re.search(r"OpenSSL \S*\s*\d+\.\d+\.\d+", out), out
    assert re.search(r"nghttp2 \d+\.\d+\.\d+", out), out

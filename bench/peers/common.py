"""Process and config plumbing shared by the peers and the harness (stdlib only).

Every process the benchmark starts goes through `Proc`: its own session (a Ctrl-C in the
terminal reaches only the harness, which then stops its children in order), PR_SET_PDEATHSIG
(children die even if the harness is SIGKILLed), stdout/stderr to a log file, and a registry
so that `stop_all()` can end whatever is still running from a `finally` or a signal handler."""

import ctypes
import os
import re
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
LOOPBACK = "127.0.0.1"

_RUNNING = []  # every Proc started and not yet stopped


def _pdeathsig():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class PeerError(RuntimeError):
    """A peer failed to start or to pass traffic; the message carries its logs."""


class Proc:
    """One child process with its output in `log_path`."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_pdeathsig,
        )
        self.pid = self.proc.pid
        _RUNNING.append(self)

    def alive(self):
        return self.proc.poll() is None

    def log_text(self, limit=6000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        return text if len(text) <= limit else "...\n" + text[-limit:]

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self in _RUNNING:
            _RUNNING.remove(self)
        try:
            self._log.close()
        except OSError:
            pass
        return self.proc.returncode

    # --- resource figures (Linux /proc) ---

    def cpu_ticks(self):
        """utime + stime of the whole process (all its threads, live and exited), in clock ticks."""
        return sum(self.cpu_ticks_split())

    def cpu_ticks_split(self):
        """(utime, stime) of the whole process, in clock ticks: user space and kernel."""
        with open(f"/proc/{self.pid}/stat") as f:
            data = f.read()
        fields = data[data.rindex(")") + 2:].split()
        return int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def stop_all():
    """Stops every process still registered, newest first (proxies before the backend)."""
    for p in reversed(list(_RUNNING)):
        try:
            p.stop()
        except Exception:  # keep stopping the others
            try:
                p.proc.kill()
            except Exception:
                pass


def free_port():
    """A free TCP port on 127.0.0.1 (bound and released; the tiny race is acceptable here)."""
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, procs, timeout=30.0, what="listener"):
    """Waits until 127.0.0.1:port accepts connections; fails with the logs if a process died."""
    deadline = time.monotonic() + timeout
    while True:
        for p in procs:
            if not p.alive():
                raise PeerError(f"{p.name} exited with {p.proc.returncode} before its {what} on port {port} was up:\n{p.log_text()}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name} ({p.log_path}):\n{p.log_text()}" for p in procs)
            raise PeerError(f"timed out after {timeout}s waiting for {what} on port {port}\n{logs}")
        time.sleep(0.05)


_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def render(template_name, out_path, **values):
    """Fills `{{name}}` placeholders of bench/peers/templates/TEMPLATE (nginx's `$var` stays intact)."""
    with open(os.path.join(TEMPLATES, template_name)) as f:
        text = f.read()

    def sub(m):
        key = m.group(1)
        if key not in values:
            raise KeyError(f"{template_name}: no value for {{{{{key}}}}}")
        return str(values[key])

    with open(out_path, "w") as f:
        f.write(_PLACEHOLDER.sub(sub, text))
    return out_path

"""Start-up's code pages are let go once the sidecar is ready (ResidentCodeTrimmer): its code
mapping is marked MADV_RANDOM (smaps VmFlags `rr`: no fault-around from then on) and the code it
does not use is no longer resident."""

import http.client
import re

from harness import HTTPBackend, basic_config, wait_until


def code_mapping(pid):
    """The sidecar executable's code mapping from smaps: (Rss kB, VmFlags)."""
    exe_mapping, rss, flags = False, None, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            header = re.match(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if header:
                if exe_mapping and rss is not None:
                    break
                exe_mapping = header.group(1) == "r-xp" and header.group(2).endswith("/sidecar")
                continue
            if exe_mapping and line.startswith("Rss:"):
                rss = int(line.split()[1])
            if exe_mapping and line.startswith("VmFlags:"):
                flags = line.split()[1:]
    return rss, flags


def test_start_up_code_pages_are_let_go_and_requests_still_work(start_sidecar):
    backend = HTTPBackend()
    try:
        sidecar = start_sidecar(basic_config(backend.address))
        sidecar.outbound_port()
        rss, flags = wait_until(lambda: (lambda m: m if m[1] and "rr" in m[1] else None)(code_mapping(sidecar.proc.pid)),
                                timeout=5, message="the code mapping marked MADV_RANDOM")
        # The binary is ~20 MiB of code; start-up alone faulted in more than 8 MiB of it before.
        assert rss < 8 * 1024, (rss, flags)
        # Requests still work: their code pages come back one by one as they run.
        conn = http.client.HTTPConnection("127.0.0.1", sidecar.outbound_port(), timeout=10)
        for _ in range(20):
            conn.request("GET", "/", headers={"Host": "backend"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
    finally:
        backend.close()

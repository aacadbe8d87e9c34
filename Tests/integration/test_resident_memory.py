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


def requests_still_work(port):
    """Twenty requests through the outbound listener on one connection, each answered 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(20):
        conn.request("GET", "/", headers={"Host": "backend"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    conn.close()


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
        requests_still_work(sidecar.outbound_port())
    finally:
        backend.close()


def elf_section(path, wanted):
    """(address, size, writable) of a section of an ELF64 little-endian file, from its headers."""
    import struct
    with open(path, "rb") as f:
        header = f.read(64)
        assert header[:4] == b"\x7fELF" and header[4] == 2 and header[5] == 1, "ELF64 little-endian"
        shoff, = struct.unpack_from("<Q", header, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", header, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        names_offset, names_size = struct.unpack_from("<QQ", table, shstrndx * shentsize + 0x18)
        f.seek(names_offset)
        names = f.read(names_size)
    for index in range(shnum):
        name_at, _, flags, address, _, size = struct.unpack_from("<IIQQQQ", table, index * shentsize)
        if names[name_at:names.index(b"\0", name_at)].decode() == wanted:
            return address, size, bool(flags & 1)
    return None


def test_start_up_constant_data_in_the_writable_segment_is_let_go(start_sidecar):
    """The Swift toolchain's objects mark some `.rodata` writable, so the linker puts all of
    `.rodata` in the read-write segment with `.data` and `.bss`, where the whole-mapping trim
    cannot go: its pages are dropped one by one instead (those never written). The sidecar says
    how much it let go, and requests still work (the pages come back as they are read)."""
    import os
    backend = HTTPBackend()
    try:
        sidecar = start_sidecar(basic_config(backend.address), extra_args=("--log-level", "debug"))
        port = sidecar.outbound_port()
        path = os.path.realpath(f"/proc/{sidecar.proc.pid}/exe")
        section = elf_section(path, ".rodata")
        assert section is not None and section[2], "this toolchain's .rodata is writable (else the test has no subject)"
        line = wait_until(lambda: next((l for l in sidecar.stderr_lines if "start-up pages released" in l), None),
                          timeout=10, message="the start-up trim's log line")
        released = int(re.search(r"constant_data_kib=(\d+)", line).group(1))
        # Start-up faults in most of .rodata (64 KiB windows); at least half of it was let go.
        assert released * 1024 >= section[1] // 2, (released, section[1] // 1024, line)
        requests_still_work(port)
    finally:
        backend.close()

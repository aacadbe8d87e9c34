"""The benchmark's chart: `bench/run.py` writes a report and `bench/chart.py` draws its medians.

The report is written by run.py's own `write_report` from made-up medians, so a change to the
report's layout that the chart cannot read fails here, not after a 13-minute `make bench`."""

import datetime
import os
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import chart  # noqa: E402
import run  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"

# peer: (c32 req/s, user µs, kernel µs, RSS out, RSS in)
MEDIANS = {
    "direct": (140000.0, None, None, None, None),
    "sidecar": (30000.0, 11.0, 22.0, 19.0, 20.0),
    "haproxy": (20000.0, 12.0, 22.0, 22.0, 26.0),
    "envoy": (15000.0, 39.0, 26.0, 74.0, 76.0),
}


def write_report(tmp_path):
    summary = {}
    for peer, (rps, user, kernel, out, inn) in MEDIANS.items():
        summary[peer] = {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "c1_rps": 9000.0, "errors": 0,
                         "cpu_user_us": user, "cpu_sys_us": kernel,
                         "cpu_us": None if user is None else user + kernel,
                         "rss_out_mib": out, "rss_in_mib": inn}
    args = types.SimpleNamespace(peers=list(MEDIANS), results=str(tmp_path), rounds=3, duration="10s",
                                 warmup="2s", connections=32, h2_requests=50000, h2_clients=8, h2_streams=16)
    instances = {p: types.SimpleNamespace(checks={}, note=None, h2c_port=None, port=1) for p in MEDIANS}
    started = datetime.datetime(2026, 11, 27, 7, 0, tzinfo=datetime.timezone.utc)
    path, _, _ = run.write_report(args, started, summary, {p: [] for p in MEDIANS}, instances, {},
                                  {"nproc": 2, "cpu": "test", "memory": "1 GiB", "kernel": "test"})
    return path


def rects(svg_path):
    """{"peer[ part]": (x, y, width, height)} for every bar, named by its tooltip (`peer[ part]: figure`)."""
    root = ET.parse(svg_path).getroot()
    out = {}
    for rect in root.iter(f"{SVG}rect"):
        title = rect.find(f"{SVG}title")
        if title is not None:
            out[title.text.split(":")[0]] = tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))
    return out


def test_run_writes_a_chart_of_the_medians_beside_the_report(tmp_path):
    report = write_report(tmp_path)
    svg = os.path.join(tmp_path, "latest.svg")
    assert os.path.exists(report) and os.path.exists(svg)
    boxes = rects(svg)
    widths = {name: box[2] for name, box in boxes.items()}
    # No proxy, no bar: the backend alone would flatten the others.
    assert not any(key.startswith("direct") for key in widths)
    # Requests/s: the fastest peer gets the whole panel, the others their share of it.
    assert widths["sidecar"] == pytest.approx(chart.PANEL)
    assert widths["haproxy"] == pytest.approx(chart.PANEL * 20000 / 30000, abs=0.1)
    assert widths["envoy"] == pytest.approx(chart.PANEL * 15000 / 30000, abs=0.1)
    # CPU: user and kernel stacked, scaled to the largest total (Envoy's 65 µs).
    assert widths["envoy user"] + widths["envoy kernel"] == pytest.approx(chart.PANEL, abs=0.2)
    assert widths["sidecar user"] == pytest.approx(chart.PANEL * 11 / 65, abs=0.1)
    assert widths["sidecar kernel"] == pytest.approx(chart.PANEL * 22 / 65, abs=0.1)
    user, kernel = boxes["sidecar user"], boxes["sidecar kernel"]
    assert kernel[0] == pytest.approx(user[0] + user[2], abs=0.1) and kernel[1] == user[1]  # end to end
    # RSS: both processes side by side, scaled to the largest.
    assert widths["envoy in"] == pytest.approx(chart.PANEL)
    assert widths["sidecar out"] == pytest.approx(chart.PANEL * 19 / 76, abs=0.1)
    out, inn = boxes["sidecar out"], boxes["sidecar in"]
    assert out[0] == inn[0] and inn[1] >= out[1] + out[3]  # one above the other, within the row
    assert inn[1] + inn[3] <= out[1] + chart.ROW
    text = open(svg, encoding="utf-8").read()
    assert "requests/s at 32 connections" in text and "medians of 3 rounds" in text


def test_a_report_without_the_medians_table_is_refused(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("# Mesh-hop benchmark\n\nno table here\n")
    with pytest.raises(chart.ChartError):
        chart.render(bad.read_text())
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "chart.py"), str(bad), str(tmp_path / "x.svg")],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "no '## Figures (medians)' table" in r.stderr
    assert not (tmp_path / "x.svg").exists()

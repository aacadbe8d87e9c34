"""The chart of a benchmark run: an SVG drawn from the medians table of its markdown report.

    python bench/chart.py bench/results/latest.md bench/results/latest.svg

Three panels, a row per peer: requests/s under load (c32; higher is better), CPU per request of both proxies
split into user space and kernel (lower is better), and the resident memory of each proxy process
after the load (lower is better). `direct` (no proxy) is left out: it measures the backend alone
and would flatten the other bars. Plain SVG written here, so the chart needs nothing installed.
"""

import re
import sys
from xml.sax.saxutils import escape

ROW = 24          # height of a peer's row
LABEL = 150       # width of the peer-name column
PANEL = 270       # width of a panel's longest bar
GAP = 120         # room after a bar for its figure, and between panels
TOP = 74          # title and panel headings
BOTTOM = 40       # the legend

SIDECAR = "#2b6cb0"
SIDECAR_LIGHT = "#90cdf4"
OTHER = "#718096"
OTHER_LIGHT = "#cbd5e0"


class ChartError(Exception):
    pass


def read_medians(markdown):
    """The `## Figures (medians)` table of a report as {peer: {column: float or None}}, in order."""
    lines = markdown.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "## Figures (medians)")
    except StopIteration:
        raise ChartError("no '## Figures (medians)' table in the report") from None
    table = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break  # the first table after the heading ends at its first non-table line
    if len(table) < 3:
        raise ChartError("the medians table has no rows")
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    figures = {}
    for line in table[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header):
            raise ChartError(f"a row of the medians table has {len(cells)} cells, the header {len(header)}: {line}")
        values = {}
        for name, cell in zip(header[1:], cells[1:]):
            try:
                values[name] = float(cell.replace(",", ""))
            except ValueError:
                values[name] = None  # "n/a"
        figures[cells[0]] = values
    return figures


def _title(markdown):
    match = re.search(r"^# (.*)$", markdown, re.MULTILINE)
    rounds = re.search(r"ROUNDS=(\d+)", markdown)
    what = match.group(1) if match else "Mesh-hop benchmark"
    return what + (f" (medians of {rounds.group(1)} rounds)" if rounds else "")


def _number(value, unit=""):
    if value >= 10000:
        return f"{value:,.0f}{unit}"
    if value >= 100:
        return f"{value:.0f}{unit}"
    return f"{value:.1f}{unit}"


def render(markdown):
    """The SVG text for a report's markdown."""
    figures = read_medians(markdown)
    peers = [p for p in figures if p != "direct"]
    if not peers:
        raise ChartError("no proxy peer in the medians table")
    columns = figures[peers[0]]
    # The load column is named after the connection count (`c32 req/s`); `c1 req/s` is the other.
    loads = sorted((int(m.group(1)), c) for c in columns if (m := re.fullmatch(r"c(\d+) req/s", c)))
    if not loads:
        raise ChartError("the medians table has no 'cN req/s' column")
    connections, load = loads[-1]
    for column in ["user µs/req", "kernel µs/req", "RSS out MiB", "RSS in MiB"]:
        if column not in columns:
            raise ChartError(f"the medians table has no '{column}' column")

    def value(peer, column):
        return figures[peer].get(column) or 0.0

    panels = [
        (f"requests/s at {connections} connections (higher is better)",
         lambda p: [(value(p, load), "")], "", False),
        ("CPU µs per request, both proxies (lower is better)",
         lambda p: [(value(p, "user µs/req"), "user"), (value(p, "kernel µs/req"), "kernel")], " µs", True),
        ("RSS after the load, MiB (lower is better)",
         lambda p: [(value(p, "RSS out MiB"), "out"), (value(p, "RSS in MiB"), "in")], " MiB", False),
    ]
    width = LABEL + len(panels) * (PANEL + GAP)
    height = TOP + len(peers) * ROW + BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="20" font-size="14" font-weight="bold">{escape(_title(markdown))}</text>',
        '<text x="8" y="38" fill="#4a5568">One run on one shared machine: only the ratios between the '
        'peers mean anything. Without a proxy (direct) the backend is not shown.</text>',
    ]
    for index, peer in enumerate(peers):
        y = TOP + index * ROW
        if index % 2 == 0:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW}" fill="#f7fafc"/>')
        weight = ' font-weight="bold"' if peer.startswith("sidecar") else ""
        out.append(f'<text x="8" y="{y + ROW * 0.68:.1f}"{weight}>{escape(peer)}</text>')

    # A panel: its heading, a peer's parts (value, label), the unit, and whether the parts stack
    # into one bar (CPU: user space then kernel) or lie side by side in the row (RSS: out, in).
    for number, (heading, parts, unit, stacked) in enumerate(panels):
        x0 = LABEL + number * (PANEL + GAP)
        out.append(f'<text x="{x0}" y="{TOP - 10}" font-weight="bold">{escape(heading)}</text>')
        scale_max = max((sum(v for v, _ in parts(p)) if stacked else max(v for v, _ in parts(p))) for p in peers)
        if scale_max <= 0:
            continue
        for index, peer in enumerate(peers):
            y = TOP + index * ROW
            dark, light = (SIDECAR, SIDECAR_LIGHT) if peer.startswith("sidecar") else (OTHER, OTHER_LIGHT)
            values = parts(peer)
            if stacked:
                x = x0
                for (part, label), colour in zip(values, (dark, light)):
                    w = PANEL * part / scale_max
                    out.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{ROW - 8}" fill="{colour}">'
                               f'<title>{escape(peer)} {label}: {_number(part, unit)}</title></rect>')
                    x += w
                # The table's own figure (the median of the totals, not the sum of the medians).
                total = figures[peer].get("CPU µs/req") or sum(v for v, _ in values)
                out.append(f'<text x="{x + 4:.1f}" y="{y + ROW * 0.68:.1f}">{_number(total, unit)}</text>')
            else:
                slot = (ROW - 6) / len(values)
                end = x0
                for n, ((part, label), colour) in enumerate(zip(values, (dark, light))):
                    w = PANEL * part / scale_max
                    out.append(f'<rect x="{x0}" y="{y + 3 + n * slot:.1f}" width="{w:.1f}" height="{slot - 1:.1f}" '
                               f'fill="{colour}"><title>{escape(peer)}{" " + label if label else ""}: '
                               f'{_number(part, unit)}</title></rect>')
                    end = max(end, x0 + w)
                shown = " / ".join(_number(v, "") for v, _ in values) + unit
                out.append(f'<text x="{end + 4:.1f}" y="{y + ROW * 0.68:.1f}">{shown}</text>')

    legend_y = TOP + len(peers) * ROW + 24
    out.append(f'<rect x="8" y="{legend_y - 10}" width="12" height="12" fill="{SIDECAR}"/>'
               f'<text x="24" y="{legend_y}">sidecar</text>'
               f'<rect x="90" y="{legend_y - 10}" width="12" height="12" fill="{OTHER}"/>'
               f'<text x="106" y="{legend_y}">other proxies</text>'
               f'<text x="220" y="{legend_y}" fill="#4a5568">CPU: dark user space, light kernel. '
               'RSS: dark the outbound process, light the inbound.</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(markdown_path, svg_path):
    with open(markdown_path, encoding="utf-8") as f:
        svg = render(f.read())
    with open(svg_path, "w", encoding="utf-8") as f:
        f.write(svg)
    return svg_path


def main(argv):
    if len(argv) != 3:
        print("usage: chart.py REPORT.md OUT.svg", file=sys.stderr)
        return 2
    try:
        write(argv[1], argv[2])
    except (OSError, ChartError) as e:
        print(f"chart.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The bench's results: the machine it ran on, a table, and the JSON file.

    python bench/report.py bench/results/latest.json   # print the table again
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

COLUMNS = ("metric", "value", "floor / peer", "ratio", "goal", "met")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cmd(*args: str, timeout: float = 30) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine(fleet: dict | None = None) -> dict:
    """What the figures depend on: hardware, kernel, load, versions."""
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    os_name = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    info = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hostname": platform.node(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "kernel": platform.release(),
        "os": os_name.group(1) if os_name else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "open_files_limit": _cmd("sh", "-c", "ulimit -Sn; ulimit -Hn").split(),
        "versions": {
            "python": platform.python_version(),
            "ansible": _version("ansible"),
            "ansible-core": _version("ansible-core"),
            "molecule": _version("molecule"),
            "websockets": _version("websockets"),
            "playwright": _version("playwright"),
            "docker": _cmd("docker", "version", "-f", "{{.Server.Version}}"),
        },
    }
    collection = Path(sys.prefix) / "lib"
    for manifest in collection.glob("python3*/site-packages/ansible_collections/community/docker/MANIFEST.json"):
        info["versions"]["community.docker"] = json.loads(manifest.read_text())["collection_info"]["version"]
    if fleet:
        master = fleet["master"]["name"]
        info["versions"]["nginx (master)"] = _cmd("docker", "exec", master, "sh", "-c", "nginx -v 2>&1").replace(
            "nginx version: ", "") or None
        info["versions"]["brotli module (master)"] = _cmd(
            "docker", "exec", master, "dpkg-query", "-W", "-f", "${Version}", "libnginx-mod-http-brotli-filter") or None
        info["versions"]["caddy (master)"] = _cmd("docker", "exec", master, "sh", "-c", "caddy version 2>/dev/null") or None
        children = fleet.get("children") or []
        if children:
            info["versions"]["docker (child)"] = _cmd("docker", "exec", children[0]["name"], "docker", "version",
                                                      "-f", "{{.Server.Version}}") or None
            info["versions"]["streamlit (app image)"] = _cmd(
                "docker", "exec", children[0]["name"], "docker", "exec", fleet["app"]["container"],
                "python", "-c", "import streamlit; print(streamlit.__version__)") or None
    return info


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cells(row: dict) -> list[str]:
    value = _fmt(row.get("value"))
    if row.get("unit") and row.get("value") is not None:
        value += " " + row["unit"]
    floor = "-"
    if row.get("floor_name") or row.get("floor") is not None:
        floor = f"{row.get('floor_name') or 'floor'}: {_fmt(row.get('floor'))}"
    ratio = row.get("ratio")
    ratio = f"{ratio:.2f}x" if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) else _fmt(ratio)
    return [row.get("metric", "?"), value, floor, ratio, _fmt(row.get("goal")), _fmt(row.get("met"))]


def table(results: dict) -> str:
    """One section per measurement; errors instead of rows where one failed."""
    lines = []
    all_rows = [_cells(r) for m in results["measurements"] for r in m.get("rows", [])]
    widths = [max([len(c)] + [len(r[i]) for r in all_rows]) for i, c in enumerate(COLUMNS)]
    widths[0] = min(widths[0], 70)
    widths[2] = min(widths[2], 48)

    def line(cells):
        return "  ".join(c.ljust(w) if i < 5 else c for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    m = results.get("machine", {})
    lines.append(f"streamlit_ops bench{' (smoke: tiny counts, judges nothing about speed)' if results.get('smoke') else ''}"
                 f" - {m.get('date', '?')} - {m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, "
                 f"{m.get('memory_gib', '?')} GiB, kernel {m.get('kernel', '?')}, load at the end {_load(m)}")
    for measurement in results["measurements"]:
        lines.append("")
        lines.append(f"{measurement['module']}: {measurement.get('title') or ''} ({measurement.get('seconds', '?')} s)")
        if measurement.get("error"):
            lines.append(f"  ERROR: {measurement['error']}")
            continue
        lines.append("  " + line(list(COLUMNS)))
        for row in measurement.get("rows", []):
            lines.append("  " + line(_cells(row)))
    side = peers(results)
    if side:
        lines.append("")
        lines.append(side)
    lines.append("")
    lines.append(f"total {results.get('seconds', '?')} s; results: {results.get('out', '?')}")
    return "\n".join(lines)


PEERS = ("ours", "Caddy", "stock Nginx", "direct")


def _details(results: dict, module: str) -> dict:
    found = next((m for m in results["measurements"] if m["module"] == module and not m.get("error")), None)
    return (found or {}).get("details") or {}


def peer_rows(results: dict) -> list[list[str]]:
    """Us, Caddy, Debian's stock Nginx and direct side by side, from the same run's details."""
    rows = []
    rtt = _details(results, "rerun_rtt").get("median_ms") or {}
    if rtt:
        d = rtt.get("direct")
        rows.append(["rerun round trip, median (ratio to direct)"]
                    + [f"{_fmt(rtt.get(k))} ms" + (f" ({rtt[k] / d:.2f}x)" if rtt.get(k) and d else "") if rtt.get(k) else "-"
                       for k in ("master", "caddy")] + ["-", f"{_fmt(d)} ms" if d else "-"])
    ramp = _details(results, "ramp")
    ramps, allowed = ramp.get("ramps") or {}, ramp.get("allowed") or {}
    names = {"ours": "ours", "Caddy": "caddy", "stock Nginx": "stock"}
    if ramps:
        def cell(kind, name, key, unit=""):
            r = ramps.get(f"{kind}-{names[name]}") or {}
            return f"{_fmt(r.get(key))}{unit}" if r.get(key) is not None else "-"

        def ceiling(name):
            r = ramps.get(f"echo-{names[name]}") or {}
            limit = (allowed.get(names[name]) or {}).get("sessions")
            if r.get("ceiling") is None:
                return "-"
            share = f", {r['ceiling'] / limit:.1%} of {_fmt(limit)}" if limit else ""
            return f"{_fmt(r['ceiling'])}{share}; {(r.get('bound') or {}).get('bound', '?')}"

        rows.append(["sessions held to the first error (share of the file limit's; bound)"]
                    + [ceiling(n) for n in PEERS[:3]] + ["-"])
        rows.append(["proxy memory at 1,000 sessions"] + [cell("echo", n, "rss_mib_at_checkpoint", " MiB") for n in PEERS[:3]] + ["-"])
        rows.append(["proxy memory at the ceiling"] + [cell("echo", n, "rss_mib_at_top", " MiB") for n in PEERS[:3]] + ["-"])
        rows.append(["Streamlit sessions held (errors)"]
                    + [f"{cell('streamlit', n, 'held')} ({cell('streamlit', n, 'errors')})" for n in PEERS[:3]] + ["-"])
    load = _details(results, "page_load")
    if load.get("median_bytes"):
        cold, floor, text = load["median_bytes"]["cold"], load["median_bytes"]["floor"], load.get("median_text_ms") or {}
        repeat = load["median_bytes"]["repeat"]

        def first(k):
            if cold.get(k) is None:
                return "-"
            over = f" ({cold[k] / floor[k]:.3f}x its floor)" if floor.get(k) else ""
            return f"{_fmt(cold[k])} B{over}"

        rows.append(["first page load, bytes (HTTPS, HTTP/2; direct: HTTP)"] + [first("master"), first("caddy"), "-", first("direct")])

        def shown(k):
            return f"{_fmt(round(text[k]))} ms" if text.get(k) else "-"

        def again(k):
            return f"{_fmt(repeat[k])} B" if repeat.get(k) is not None else "-"

        rows.append(["time until the app's text shows, median", shown("master"), shown("caddy"), "-", shown("direct")])
        rows.append(["repeat visit, warm cache, bytes", again("master"), again("caddy"), "-", again("direct")])
    return rows


def peers(results: dict) -> str:
    rows = peer_rows(results)
    if not rows:
        return ""
    head = ["side by side (same run)", *PEERS]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows])


def _load(m: dict) -> str:
    load = m.get("load_average") or []
    return "/".join(f"{x:.1f}" for x in load) if load else "?"


def write(results: dict, path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(table(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))

"""Rerun round trip: BackMsg rerun_script to this run's script_finished, through
the master, through the Caddy peer and directly against one child, interleaved
in rounds.

The Caddy peer is bench/caddy.py's plain HTTP site on the master (port 8081,
``reverse_proxy`` to the same children with ``lb_policy cookie``), so both
proxies run on the same host over the same plain HTTP as the master's Nginx
(port 80). One session per path lives for the whole measurement (opened, then
warmed up with reruns that are not counted). Each round takes the paths in
turn, rerun by rerun, and rotates which goes first every round (master,
caddy, direct; then caddy, direct, master; ...), so drift and order hit every
path alike. Reported: the medians and p90 over all counted reruns per path,
each proxy's ratio to direct (goal for the master <= 1.02x; Caddy's is
reported beside it), and per round each path's median and the proxies'
ratios; the spread is the largest minus the smallest per-round ratio.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

try:
    from . import caddy
    from . import streamlit_session as ss
except ImportError:
    import caddy
    import streamlit_session as ss

GOAL = 1.02
PROXIES = ("master", "caddy")
# gap_s: think time after each rerun, so the server has finished the previous
# run's teardown (script thread exit, watcher updates) before the next request,
# whichever session sent it. Without it the next path pays for the previous
# one's tail.
FULL = {"rounds": 6, "per_round": 50, "warmup": 10, "gap_s": 0.05, "max_seconds": 900}
SMOKE = {"rounds": 3, "per_round": 5, "warmup": 2, "gap_s": 0.05, "max_seconds": 60}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ways(fleet: dict, caddy_http: str) -> dict[str, dict]:
    """master and direct (streamlit_session.targets), and Caddy's plain HTTP site."""
    found = ss.targets(fleet)
    url = urlsplit(caddy_http)
    found["caddy"] = {"ip": url.hostname, "port": url.port or 80, "path": fleet["app"]["path"]}
    return {name: found[name] for name in ("master", "caddy", "direct")}


async def measure(fleet: dict, paths: dict[str, dict], rounds: int, per_round: int, warmup: int, gap_s: float,
                  max_seconds: float) -> dict:
    text = fleet["app"].get("text")
    sessions = {name: ss.StreamlitSession(t["ip"], t["port"], t["path"], text) for name, t in paths.items()}
    samples: dict[str, list[list[float]]] = {name: [] for name in sessions}
    first_run = {}
    deadline = time.monotonic() + max_seconds
    truncated = False
    try:
        for name, session in sessions.items():
            first_run[name] = await session.open()
            for dummy in range(warmup):
                await session.rerun()
                await asyncio.sleep(gap_s)
        order = list(sessions)
        for number in range(rounds):
            for name in sessions:
                samples[name].append([])
            turn = order[number % len(order):] + order[:number % len(order)]
            for dummy in range(per_round):
                if time.monotonic() > deadline:
                    truncated = True
                    break
                for name in turn:
                    samples[name][-1].append(await sessions[name].rerun())
                    await asyncio.sleep(gap_s)
            if truncated:
                break
    finally:
        for session in sessions.values():
            await session.close()
    return {
        "samples_s": samples,
        "first_run_s": first_run,
        "saw_text": {name: s.saw_text for name, s in sessions.items()},
        "messages": {name: dict(s.counts) for name, s in sessions.items()},
        "urls": {name: s.url for name, s in sessions.items()},
        "truncated": truncated,
    }


def summarise(raw: dict, smoke: bool) -> dict:
    ms = {name: [[v * 1000 for v in rnd] for rnd in rounds] for name, rounds in raw["samples_s"].items()}
    flat = {name: [v for rnd in rounds for v in rnd] for name, rounds in ms.items()}
    per_round = []
    for number, direct in enumerate(ms["direct"]):
        entry = {"n": len(direct), "direct_ms": ss.median(direct)}
        for name in PROXIES:
            values = ms[name][number]
            entry[f"{name}_ms"] = ss.median(values)
            entry[f"{name}_ratio"] = ss.ratio(ss.median(values), ss.median(direct))
        if entry["n"]:
            per_round.append(entry)
    ratios = {name: [r[f"{name}_ratio"] for r in per_round if r[f"{name}_ratio"] is not None] for name in PROXIES}
    spread = {name: max(v) - min(v) if v else None for name, v in ratios.items()}
    med = {name: ss.median(v) for name, v in flat.items()}
    p90 = {name: _quantile(v, 0.9) for name, v in flat.items()}
    rows = [
        ss.row("rerun round trip through our master, median", med["master"], "ms", "direct to child", med["direct"],
               goal=f"<= {GOAL}x", limit=GOAL, smoke=smoke),
        ss.row("rerun round trip through Caddy, median (peer)", med["caddy"], "ms", "direct to child", med["direct"],
               goal="reported"),
        ss.row("rerun round trip through our master, p90", p90["master"], "ms", "direct to child", p90["direct"]),
        ss.row("rerun round trip through Caddy, p90 (peer)", p90["caddy"], "ms", "direct to child", p90["direct"]),
        ss.row("per-round median ratio to direct, spread (max - min), our master", spread["master"], "x", "none"),
        ss.row("per-round median ratio to direct, spread (max - min), Caddy", spread["caddy"], "x", "none"),
    ]
    details = {
        "method": "one session per path (master, Caddy's plain HTTP site, direct); each rerun = BackMsg "
                  "rerun_script sent until the script_finished of the run it started; the paths take turns "
                  "rerun by rerun, the first path rotating every round; warm-up reruns excluded",
        "smoke": smoke,
        "rounds": per_round,
        "per_round_ratio_range": {name: [min(v), max(v)] if v else None for name, v in ratios.items()},
        "median_ms": med,
        "p90_ms": p90,
        "master_over_caddy": ss.ratio(med["master"], med["caddy"]),
        "counted": {name: len(v) for name, v in flat.items()},
        "first_run_ms": {name: v * 1000 for name, v in raw["first_run_s"].items()},
        "saw_text": raw["saw_text"],
        "messages": raw["messages"],
        "urls": raw["urls"],
        "truncated": raw["truncated"],
        "samples_ms": ms,
    }
    return {"title": "Rerun round trip (WebSocket rerun_script -> script_finished), master and Caddy vs direct",
            "rows": rows, "details": details}


def run(fleet: dict, smoke: bool = False) -> dict:
    params = SMOKE if smoke else FULL
    peer = caddy.ensure(fleet)
    raw = asyncio.run(measure(fleet, ways(fleet, peer["http"]), **params))
    result = summarise(raw, smoke)
    result["details"]["params"] = params
    result["details"]["caddy"] = peer
    return result


if __name__ == "__main__":
    ss.cli(run, __doc__.splitlines()[0])

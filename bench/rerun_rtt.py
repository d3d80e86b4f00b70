"""Rerun round trip: BackMsg rerun_script to this run's script_finished, through
the master and directly against one child, interleaved in rounds.

One session per path lives for the whole measurement (opened, then warmed up
with reruns that are not counted). Each round alternates the two sessions
rerun by rerun, and flips which goes first every round, so drift and order
hit both paths alike. Reported: the medians over all counted reruns, their
ratio (goal <= 1.02x), and per round the two medians and their ratio; the
spread is the largest minus the smallest per-round ratio.
"""

from __future__ import annotations

import asyncio
import time

try:
    from . import streamlit_session as ss
except ImportError:
    import streamlit_session as ss

GOAL = 1.02
# gap_s: think time after each rerun, so the server has finished the previous
# run's teardown (script thread exit, watcher updates) before the next request,
# whichever session sent it. Without it the second path of each pair pays for
# the first one's tail.
FULL = {"rounds": 5, "per_round": 60, "warmup": 10, "gap_s": 0.05, "max_seconds": 900}
SMOKE = {"rounds": 3, "per_round": 5, "warmup": 2, "gap_s": 0.05, "max_seconds": 60}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(fleet: dict, rounds: int, per_round: int, warmup: int, gap_s: float, max_seconds: float) -> dict:
    text = fleet["app"].get("text")
    ways = ss.targets(fleet)
    sessions = {name: ss.StreamlitSession(t["ip"], t["port"], t["path"], text) for name, t in ways.items()}
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
            pair = order if number % 2 == 0 else order[::-1]
            for dummy in range(per_round):
                if time.monotonic() > deadline:
                    truncated = True
                    break
                for name in pair:
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
    for master, direct in zip(ms["master"], ms["direct"]):
        if master and direct:
            m, d = ss.median(master), ss.median(direct)
            per_round.append({"n": len(master), "master_ms": m, "direct_ms": d, "ratio": m / d})
    ratios = [r["ratio"] for r in per_round]
    spread = max(ratios) - min(ratios) if ratios else None
    med = {name: ss.median(v) for name, v in flat.items()}
    p90 = {name: _quantile(v, 0.9) for name, v in flat.items()}
    rows = [
        ss.row("rerun round trip, median", med["master"], "ms", "direct to child", med["direct"],
               goal=f"<= {GOAL}x", limit=GOAL, smoke=smoke),
        ss.row("rerun round trip, p90", p90["master"], "ms", "direct to child", p90["direct"]),
        ss.row("per-round median ratio, spread (max - min)", spread, "x", "none"),
    ]
    details = {
        "method": "one session per path; each rerun = BackMsg rerun_script sent until the "
                  "script_finished of the run it started; the two paths alternate rerun by rerun, "
                  "the first path flips every round; warm-up reruns excluded",
        "smoke": smoke,
        "rounds": per_round,
        "per_round_ratio_min": min(ratios) if ratios else None,
        "per_round_ratio_max": max(ratios) if ratios else None,
        "counted": {name: len(v) for name, v in flat.items()},
        "first_run_ms": {name: v * 1000 for name, v in raw["first_run_s"].items()},
        "saw_text": raw["saw_text"],
        "messages": raw["messages"],
        "urls": raw["urls"],
        "truncated": raw["truncated"],
        "samples_ms": ms,
    }
    return {"title": "Rerun round trip (WebSocket rerun_script -> script_finished)", "rows": rows,
            "details": details}


def run(fleet: dict, smoke: bool = False) -> dict:
    params = SMOKE if smoke else FULL
    raw = asyncio.run(measure(fleet, **params))
    result = summarise(raw, smoke)
    result["details"]["params"] = params
    return result


if __name__ == "__main__":
    ss.cli(run, __doc__.splitlines()[0])

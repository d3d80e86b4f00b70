"""Memory per idle Streamlit session on a child: the app container's memory
before and after N real sessions, divided by N.

Memory is read from the child, outside the app container, in the container's
cgroup v1 memory controller (path from /proc/<app pid>/cgroup on the child):
``memory.usage_in_bytes - total_cache`` (anonymous memory plus kernel memory,
without page cache). ``total_rss``, Docker 20.10's ``docker stats`` figure
(``usage - total_inactive_file``) and the app process's VmRSS are kept in
the details. Each reading is the median of READS readings READ_GAP_S apart.

Per path (directly to the first child, then through the master):
1. the app container is restarted on every child and the app's health
   endpoint waited for, so sessions left from an earlier measurement (a closed
   session is kept for server.disconnectedSessionTTL, 120 s) are gone;
2. one warm-up session per child, opened directly to it, runs the script
   (first-run imports are not per session) and stays open;
3. baseline; N sessions each open the stream and run the script once, then
   stay idle (the server pings them); SETTLE_S later, the reading after;
4. (after - baseline) / N, summed over all children, so sessions that the
   master sends elsewhere still count; then all sessions are closed and one
   more reading is taken (still holds them: they wait out the TTL).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request

try:
    from . import streamlit_session as ss
except ImportError:
    import streamlit_session as ss

FULL = {"sessions": 100, "restart": True, "concurrency": 10, "max_seconds": 600}
SMOKE = {"sessions": 5, "restart": True, "concurrency": 5, "max_seconds": 120}
READS = 3
READ_GAP_S = 0.5
SETTLE_S = 3.0
HEALTH_TIMEOUT_S = 90.0
CMD_TIMEOUT_S = 60.0


async def _exec(*argv: str, timeout: float = CMD_TIMEOUT_S) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"timed out after {timeout} s: {' '.join(argv)}")
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode().strip()}")
    return out.decode()


class AppContainer:
    """The app's container on one child, seen from the child through docker exec."""

    def __init__(self, child: dict, app: dict):
        self.child = child["name"]
        self.ip = child["ip"]
        self.name = app["container"]
        self.port = int(app["port"])
        self.path = app["path"]
        self.pid: str | None = None
        self.cgroup: str | None = None

    async def locate(self) -> None:
        self.pid = (await _exec("docker", "exec", self.child, "docker", "inspect", "-f",
                                "{{.State.Pid}}", self.name)).strip()
        lines = (await _exec("docker", "exec", self.child, "cat", f"/proc/{self.pid}/cgroup")).splitlines()
        paths = [line.split(":", 2)[2] for line in lines if line.split(":", 2)[1] == "memory"]
        if not paths:
            raise RuntimeError(f"no cgroup v1 memory controller for {self.name} on {self.child}")
        self.cgroup = f"/sys/fs/cgroup/memory{paths[0]}"

    async def restart(self) -> None:
        await _exec("docker", "exec", self.child, "docker", "restart", "-t", "10", self.name, timeout=90)
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        url = ss.base_url(self.ip, self.port, self.path) + "_stcore/health"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            try:
                body = await asyncio.to_thread(lambda: opener.open(url, timeout=5).read())
                if body.strip() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not healthy {HEALTH_TIMEOUT_S} s after the restart")
            await asyncio.sleep(0.5)
        await self.locate()

    async def read_once(self) -> dict:
        script = (f"cat {self.cgroup}/memory.usage_in_bytes {self.cgroup}/memory.stat; "
                  f"grep VmRSS /proc/{self.pid}/status")
        out = await _exec("docker", "exec", self.child, "sh", "-c", script)
        lines = out.splitlines()
        stat = dict(line.split()[:2] for line in lines[1:] if len(line.split()) == 2)
        usage = int(lines[0])
        vmrss = next(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS"))
        return {
            "usage_minus_cache": usage - int(stat["total_cache"]),
            "rss": int(stat["total_rss"]),
            "docker_stats": usage - int(stat.get("total_inactive_file", 0)),
            "usage": usage,
            "vmrss": vmrss,
        }

    async def read(self) -> dict:
        samples = []
        for number in range(READS):
            if number:
                await asyncio.sleep(READ_GAP_S)
            samples.append(await self.read_once())
        return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


async def _read_all(containers: list[AppContainer]) -> dict:
    readings = [await c.read() for c in containers]
    return {key: sum(r[key] for r in readings) for key in readings[0]}


async def measure_path(containers: list[AppContainer], target: dict, text: str | None, sessions: int,
                       restart: bool, concurrency: int, deadline: float) -> dict:
    if restart:
        for container in containers:
            await container.restart()
    # One warm-up session per container, opened directly, so every process has
    # paid its first run whichever child the master sends a session to.
    warm = [ss.StreamlitSession(c.ip, c.port, c.path, text) for c in containers]
    opened: list[ss.StreamlitSession] = []
    gate = asyncio.Semaphore(concurrency)
    first_runs: list[float] = []

    async def open_one() -> None:
        async with gate:
            if time.monotonic() > deadline:
                return
            session = ss.StreamlitSession(target["ip"], target["port"], target["path"], text)
            opened.append(session)
            first_runs.append(await session.open())

    try:
        for session in warm:
            await session.open()
        await asyncio.sleep(SETTLE_S)
        before = await _read_all(containers)
        started = time.monotonic()
        await asyncio.gather(*(open_one() for dummy in range(sessions)))
        open_s = time.monotonic() - started
        await asyncio.sleep(SETTLE_S)
        after = await _read_all(containers)
    finally:
        for session in [*opened, *warm]:
            try:
                await session.close()
            except Exception:  # noqa: BLE001 - closing is best effort; the restart cleans up
                pass
    await asyncio.sleep(SETTLE_S)
    after_close = await _read_all(containers)
    live = len(first_runs)
    return {
        "url": ss.base_url(target["ip"], target["port"], target["path"], "ws") + "_stcore/stream",
        "sessions": live,
        "per_session": {key: (after[key] - before[key]) / live if live else None for key in before},
        "before": before,
        "after": after,
        "after_close": after_close,
        "open_all_s": open_s,
        "first_run_median_ms": (ss.median(first_runs) or 0) * 1000,
        "all_saw_text": all(s.saw_text for s in opened),
    }


async def measure(fleet: dict, sessions: int, restart: bool, concurrency: int, max_seconds: float) -> dict:
    deadline = time.monotonic() + max_seconds
    containers = [AppContainer(child, fleet["app"]) for child in fleet["children"]]
    for container in containers:
        await container.locate()
    text = fleet["app"].get("text")
    ways = ss.targets(fleet)
    result = {}
    for name in ("direct", "master"):
        result[name] = await measure_path(containers, ways[name], text, sessions, restart, concurrency,
                                          deadline)
    result["truncated"] = any(result[name]["sessions"] < sessions for name in ("direct", "master"))
    return result


def summarise(raw: dict, smoke: bool) -> dict:
    def kib(name, key="usage_minus_cache"):
        value = raw[name]["per_session"][key]
        return value / 1024 if value is not None else None

    rows = [
        ss.row("memory per idle session, direct (cgroup usage - cache)", kib("direct"), "KiB", "none"),
        ss.row("memory per idle session, through the master (cgroup usage - cache)", kib("master"), "KiB",
               "direct to child", kib("direct")),
    ]
    details = {
        "method": "app container's cgroup v1 memory read on the child; baseline with one warm session per child "
                  "open after a container restart; N sessions opened (rerun_script, script_finished) and "
                  "left idle; per session = (after - baseline) / N, summed over children",
        "smoke": smoke,
        "per_session_kib": {name: {key: (v / 1024 if v is not None else None)
                                   for key, v in raw[name]["per_session"].items()}
                            for name in ("direct", "master")},
        "direct": raw["direct"],
        "master": raw["master"],
        "truncated": raw["truncated"],
    }
    return {"title": "Memory per idle Streamlit session (app container on the child)", "rows": rows,
            "details": details}


def run(fleet: dict, smoke: bool = False) -> dict:
    params = SMOKE if smoke else FULL
    result = summarise(asyncio.run(measure(fleet, **params)), smoke)
    result["details"]["params"] = params
    return result


if __name__ == "__main__":
    ss.cli(run, __doc__.splitlines()[0])

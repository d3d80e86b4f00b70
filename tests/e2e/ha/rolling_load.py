"""A bounded load through the master while a playbook runs: new page loads
and WebSocket handshakes, each counted with its outcome, and the playbook
runs from the checkout with its rollout lines read back."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from stclient import StreamlitClient

ROLLOUT = re.compile(r"Rollout of (?P<hosts>[^:]+): (?P<seconds>[\d.]+) s from drain to re-admit")


@dataclass
class Load:
    """Workers that each open fresh sessions (page, health, WebSocket upgrade)
    until stopped, paced to rate_per_s in all. Unpaced, four workers ran at
    about 40/s: every session runs the app's script, and on 2 cores that load
    took the CPU from the run it watched (and from a scenario beside it). At
    10/s a rollout's gap of even a second still fails several sessions."""

    app_url: str
    cafile: str
    workers: int = 4
    rate_per_s: float = 10.0
    max_seconds: float = 900
    max_sessions: int = 20000
    ok: int = 0
    resent: int = 0  # requests sent again as a browser would (StreamlitClient._get_reused)
    failures: list[str] = field(default_factory=list)
    started: float = 0.0
    stopped: float = 0.0

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, daemon=True) for dummy in range(self.workers)]

    def _one(self) -> str | None:
        client = StreamlitClient(self.app_url, cafile=self.cafile, timeout=10)
        try:
            client.load()
            client.connect()
        except Exception as exc:  # noqa: BLE001  (any failure is a failed request, counted)
            return f"{'health' if client.result.page else 'page'}: {exc!r}"
        finally:
            client.close()
            with self._lock:
                self.resent += client.result.resent
        result = client.result
        if result.page != 200 or result.health != 200 or result.websocket != 101:
            return str(result)
        return None

    def _work(self):
        deadline = self.started + self.max_seconds
        pace = self.workers / self.rate_per_s
        due = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            failure = self._one()
            with self._lock:
                if failure is None:
                    self.ok += 1
                else:
                    self.failures.append(f"{time.monotonic() - self.started:.1f}s {failure}")
                if self.ok + len(self.failures) >= self.max_sessions:
                    self._stop.set()
            # A late session starts the next at once, without a burst to catch up.
            due = max(due + pace, time.monotonic())
            self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self):
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.stopped = time.monotonic()

    @property
    def rate(self) -> float:
        return (self.ok + len(self.failures)) / max(self.stopped - self.started, 0.001)


def rollouts(output: str) -> list[tuple[str, float]]:
    """The site playbook's 'Rollout of HOSTS: N s' lines: [(hosts, seconds)]."""
    return [(m["hosts"].strip(), float(m["seconds"])) for m in ROLLOUT.finditer(output)]

"""Two runs at once: the second waits for the first's lock, or refuses naming
the holder when its wait is shorter, and never interleaves. Control: the
lock file names the first run while it runs and is gone after it, and the
same short-waiting run passes once the lock is free.

The first run is the rolling test's control run, the patient one is its run
back to the scenario, and the control is the shared runs' last one (all in
site_runs.py)."""

from __future__ import annotations

import socket

from hosts import HOST_READ, LOCK
from site_runs import holder


def test_second_run_refuses_naming_the_holder_then_waits(site_runs, master):
    first = site_runs.control
    seen = site_runs.holder
    assert seen, "the first run never took the lock"
    assert seen["pid"] == first.pid and seen["controller"] == socket.gethostname(), seen
    refused = site_runs.refused
    flat = " ".join(refused.output.split())
    assert refused.rc != 0, "a second run went ahead while the first held the lock"
    assert f"pid {first.pid}" in flat and LOCK in flat and "holds the run lock" in flat, flat[-2000:]
    assert sum(refused.changed.values()) == 0, f"the refused run changed something: {refused.changed}"
    # Meanwhile a patient run waited for the first, then ran.
    waiting = site_runs.back
    assert first.rc == 0, first.output[-3000:]
    assert waiting is not None and waiting.rc == 0, waiting and waiting.output[-3000:]
    assert f"pid {first.pid}" in " ".join(waiting.output.split()) and "Waiting up to" in waiting.output, \
        "the second run did not wait for the first"
    # It read the children while the first run held the lock and changed them, so it read them again once it
    # held the lock itself (test_rolling.py checks what it then put back).
    assert waiting.output.count(HOST_READ) == 2, waiting.output[-3000:]
    assert holder(master) is None, "the lock outlived the runs"
    # Control: the same short wait passes once nobody holds the lock.
    final = site_runs.final
    assert final.rc == 0 and sum(final.changed.values()) == 0, final.output[-3000:]
    # and its read before the lock stood: the lock was free and nobody took it in between.
    assert final.output.count(HOST_READ) == 1, final.output[-3000:]

"""Two runs at once: the second waits for the first's lock, or refuses naming
the holder when its wait is shorter, and never interleaves. Control: the
lock file names the first run while it runs and is gone after it, and the
same short-waiting run passes once the lock is free."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from hosts import ROOT, on, playbook

LOCK = "/run/streamlit_ops_deploy.lock"


def _start(inventory, *args):
    cmd = [str(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")), "site.yml", "-i", inventory, *args]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _holder(master):
    out = on(master, "cat", LOCK, check=False)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def _wait_for_holder(master, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        holder = _holder(master)
        if holder:
            return holder
        time.sleep(0.5)
    return None


def test_second_run_refuses_naming_the_holder_then_waits(inventory, master):
    first = _start(inventory)
    try:
        holder = _wait_for_holder(master, first)
        assert holder, "the first run never took the lock"
        assert holder["pid"] == first.pid and holder["controller"] == socket.gethostname(), holder
        rc, output, changed = playbook("site.yml", inventory, "-e", "streamlit_ops_lock_wait=2", timeout=300)
        flat = " ".join(output.split())
        assert rc != 0, "a second run went ahead while the first held the lock"
        assert f"pid {first.pid}" in flat and LOCK in flat and "holds the run lock" in flat, flat[-2000:]
        assert sum(changed.values()) == 0, f"the refused run changed something: {changed}"
        # Meanwhile a patient run waits for the first, then runs.
        waiting = _start(inventory)
        out_first = first.communicate(timeout=900)[0]
        out_waiting = waiting.communicate(timeout=900)[0]
    finally:
        for proc in (first,):
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
    assert first.returncode == 0, out_first[-3000:]
    assert waiting.returncode == 0, out_waiting[-3000:]
    assert f"pid {first.pid}" in " ".join(out_waiting.split()) and "Waiting up to" in out_waiting, \
        "the second run did not wait for the first"
    assert _holder(master) is None, "the lock outlived the runs"
    # Control: the same short wait passes once nobody holds the lock.
    rc, output, changed = playbook("site.yml", inventory, "-e", "streamlit_ops_lock_wait=2", timeout=900)
    assert rc == 0 and sum(changed.values()) == 0, output[-3000:]

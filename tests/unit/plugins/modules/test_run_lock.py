"""run_lock on a real lock file: the first run takes it, another waits or is
refused, the holder's own renewals and release work, an expired or dead
holder is taken over, and nobody else's lock is released."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

MODULE = pathlib.Path(__file__).resolve().parents[4] / "plugins/modules/run_lock.py"


def _run(tmp_path, token, **args):
    holder = {"controller": "c1", "user": "u", "pid": 1, "started": "t", "token": token}
    params = {"path": str(tmp_path / "run.lock"), "holder": holder, **args}
    argfile = tmp_path / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    out = subprocess.run([sys.executable, str(MODULE), str(argfile)], capture_output=True, text=True, timeout=60, check=False)
    return json.loads(out.stdout)


def test_take_renew_refuse_release(tmp_path):
    first = _run(tmp_path, "A")
    assert first["acquired"] and first["holder"]["token"] == "A"
    assert _run(tmp_path, "A")["acquired"], "the holder renews its own lock"
    second = _run(tmp_path, "B")
    assert not second["acquired"] and second["holder"]["token"] == "A"
    # Another run's release leaves the lock alone (control for the release below).
    _run(tmp_path, "B", state="absent")
    assert json.loads((tmp_path / "run.lock").read_text())["token"] == "A"
    _run(tmp_path, "A", state="absent")
    assert not (tmp_path / "run.lock").exists()
    assert _run(tmp_path, "B")["acquired"]


def test_expired_lease_and_named_take_over(tmp_path):
    assert _run(tmp_path, "A")["acquired"]
    assert not _run(tmp_path, "B", lease=3600)["acquired"]
    old = json.loads((tmp_path / "run.lock").read_text())
    old["renewed"] -= 100
    (tmp_path / "run.lock").write_text(json.dumps(old))
    assert not _run(tmp_path, "B", lease=3600)["acquired"], "control: within the lease it stays"
    taken = _run(tmp_path, "B", lease=50)
    assert taken["acquired"] and taken["taken_over"]["token"] == "A"
    assert _run(tmp_path, "C", take_over="B")["acquired"]


def test_check_mode_writes_nothing(tmp_path):
    holder = {"controller": "c1", "user": "u", "pid": 1, "started": "t", "token": "A"}
    argfile = tmp_path / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "path": str(tmp_path / "run.lock"), "holder": holder, "_ansible_check_mode": True}}))
    subprocess.run([sys.executable, str(MODULE), str(argfile)], capture_output=True, timeout=60, check=True)
    assert not list(tmp_path.glob("run.lock*"))


def test_generation_counts_takes_not_renewals_and_query_changes_nothing(tmp_path):
    """What the site playbook's read-before-the-lock relies on: a query before the take shows the lock free and
    the count, and the run's take is the next count only when no other run took the lock in between."""
    seen = _run(tmp_path, "A", state="query")
    assert seen["held"] is False and not seen["acquired"] and seen["generation"]["takes"] == 0
    assert not list(tmp_path.glob("run.lock*")), "a query creates nothing"
    taken = _run(tmp_path, "A")
    assert taken["generation"] == dict(seen["generation"], takes=1)
    assert _run(tmp_path, "A")["generation"]["takes"] == 1, "a renewal is not a take"
    assert not _run(tmp_path, "B")["acquired"]
    held = _run(tmp_path, "B", state="query")
    assert held["held"] and held["holder"]["token"] == "A" and held["generation"]["takes"] == 1
    assert json.loads((tmp_path / "run.lock").read_text())["token"] == "A", "a query leaves the holder"
    _run(tmp_path, "A", state="absent")
    # Control: another run took and released the lock between a query and this run's take.
    seen = _run(tmp_path, "C", state="query")
    assert not seen["held"]
    assert _run(tmp_path, "D")["generation"]["takes"] == 2
    _run(tmp_path, "D", state="absent")
    assert _run(tmp_path, "C")["generation"]["takes"] == seen["generation"]["takes"] + 2
    assert _run(tmp_path, "E", take_over="C")["generation"]["takes"] == 4, "a take-over is a take"


def test_generation_restarts_after_a_reboot(tmp_path):
    guard = tmp_path / "run.lock.guard"
    guard.write_text(json.dumps({"boot_id": "an earlier boot", "takes": 7}))
    seen = _run(tmp_path, "A", state="query")
    assert seen["generation"]["takes"] == 0 and seen["generation"]["boot_id"] != "an earlier boot"
    assert _run(tmp_path, "A")["generation"]["takes"] == 1
    # Control: the same boot's count goes on.
    assert _run(tmp_path, "A", state="query")["generation"]["takes"] == 1


def test_a_torn_guard_file_counts_from_zero(tmp_path):
    for torn in ("[1, 2]", "{not json", '{"takes": "many"}'):
        (tmp_path / "run.lock.guard").write_text(torn)
        assert _run(tmp_path, "A", state="query")["generation"]["takes"] == 0, torn
    # Control: a take writes a count that the next query reads.
    assert _run(tmp_path, "A")["generation"]["takes"] == 1
    assert _run(tmp_path, "B", state="query")["generation"]["takes"] == 1

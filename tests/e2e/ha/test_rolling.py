"""The rolling update under load: an image change of the app `main` on both
children, run by site.yml while a bounded load of new page loads and
WebSocket handshakes goes through the master, fails no request. The control
recreates both children at once (streamlit_ops_rolling_batch 2, no drain
wait) under the same load, and requests fail. The run back to the scenario
(image 1.0) rolls out and fails no request either, and the scenario's own
run then changes nothing.

A health request whose kept-alive connection a reload closed just as it
left is sent again once, as a browser does (stclient.py); the resends are
printed and kept, and any other failure counts.

The runs are shared with the lock, interrupted-run and secret-sentinel
checks (site_runs.py); the rollout time per child is printed and kept in
the artifacts (rollout.json), each run's output next to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hosts import PREVIEW_ASKS, task_output
from rolling_load import rollouts
from site_runs import NEW_IMAGE

MIN_RATE = 5.0


@pytest.fixture(scope="module")
def record(artifacts):
    figures = {}
    yield figures
    (Path(artifacts) / "rollout.json").write_text(json.dumps(figures, indent=2) + "\n")


def test_image_change_rolls_out_with_no_failed_request(site_runs, children, record):
    run, load = site_runs.new_image, site_runs.new_image.load
    assert run.rc == 0, run.output[-3000:]
    assert site_runs.new_image_images == [NEW_IMAGE] * len(children)
    per_child = rollouts(run.output)
    assert [hosts for hosts, seconds in per_child] == children, f"one batch per child expected: {per_child}"
    # A new image reference is a new spec label: the host read names the container to drain, and the
    # service step runs once per child, not also in check mode (test_playbook_runs.py's check run: the control).
    preview = task_output(run.output, PREVIEW_ASKS)
    assert all(f"skipping: [{child}]" in preview for child in children), preview or run.output[-3000:]
    record["rollout_seconds_per_child"] = dict((h, s) for h, s in per_child)
    record["load"] = {"sessions": load.ok + len(load.failures), "rate_per_s": round(load.rate, 1), "resent": load.resent}
    print(f"rollout per child: {per_child}; load {load.ok} ok at {load.rate:.1f}/s, {load.resent} resent")
    assert load.rate >= MIN_RATE, f"the load ran at {load.rate:.1f}/s, below {MIN_RATE}/s: it proves nothing"
    assert load.failures == [], f"{len(load.failures)} of {load.ok + len(load.failures)} failed: {load.failures[:10]}"


def test_control_all_children_at_once_fails_requests(site_runs, record):
    """Both replicas recreated in one batch without waiting: the same load sees failures."""
    run, load = site_runs.control, site_runs.control.load
    assert run.rc == 0, run.output[-3000:]
    assert "all replaced in this batch" in " ".join(run.output.split()), "the run warns that the batch takes main down whole"
    record["control_failures"] = len(load.failures)
    assert load.failures, f"no request failed while both replicas were recreated at once ({load.ok} ok): the load sees nothing"


def test_back_to_the_scenario_rolls_out_with_no_failed_request(site_runs, apps, children, record):
    run = site_runs.back
    assert run is not None, "the run back to the scenario never started (the control run took no lock)"
    load = run.load
    assert run.rc == 0, run.output[-3000:]
    assert site_runs.back_images == [apps[0]["image"]] * len(children)
    record["restore_rollout_seconds_per_child"] = dict(rollouts(run.output))
    assert load.rate >= MIN_RATE, f"the load ran at {load.rate:.1f}/s, below {MIN_RATE}/s"
    assert load.failures == [], f"{len(load.failures)} failed: {load.failures[:10]}"
    final = site_runs.final
    assert final.rc == 0 and sum(final.changed.values()) == 0, f"the scenario's own run changes nothing now: {final.changed}"

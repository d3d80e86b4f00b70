"""The rolling update under load: an image change of the app `main` on both
children, run by site.yml while a bounded load of new page loads and
WebSocket handshakes goes through the master, fails no request. The control
recreates both children at once (streamlit_ops_rolling_batch 2, no drain
wait) under the same load, and requests fail. The last run puts the scenario
back (image 1.0), rolling, and fails no request either.

Costs about three site.yml runs with a changed app (the 1.1 archive is
copied to both children once); the rollout time per child is printed and
kept in the artifacts (rollout.json)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from hosts import ROOT, on, playbook
from rolling_load import Load, rollouts

NEW_IMAGE = "streamlit-ops-demo:1.1"
NEW_ARCHIVE = ROOT / ".cache/images/streamlit-ops-demo-1.1.tar"
MIN_RATE = 5.0


def _with_main(apps, **fields):
    changed = copy.deepcopy(apps)
    next(a for a in changed if a["name"] == "main").update(fields)
    return changed


def _site_under_load(app_url, cafile, inventory, apps, *extra):
    with Load(app_url, cafile) as load:
        time.sleep(3)  # the load is flowing before the run starts
        rc, output, changed = playbook("site.yml", inventory, "-e", json.dumps({"streamlit_ops_apps": apps}), *extra)
        time.sleep(3)  # and still after it ended
    return rc, output, changed, load


def _main_image(child):
    return on(child, "docker", "inspect", "-f", "{{.Config.Image}}", "streamlit-main").stdout.strip()


@pytest.fixture(scope="module")
def record(artifacts):
    figures = {}
    yield figures
    (Path(artifacts) / "rollout.json").write_text(json.dumps(figures, indent=2) + "\n")


def test_image_change_rolls_out_with_no_failed_request(app_url, cafile, inventory, apps, children, artifacts, record):
    assert NEW_ARCHIVE.exists(), f"{NEW_ARCHIVE} missing: tests/images/build-app-image makes it"
    rc, output, changed, load = _site_under_load(
        app_url, cafile, inventory, _with_main(apps, image=NEW_IMAGE, image_archive=str(NEW_ARCHIVE)))
    (Path(artifacts) / "rolling-1.1.log").write_text(output)
    assert rc == 0, output[-3000:]
    assert [_main_image(c) for c in children] == [NEW_IMAGE] * len(children)
    per_child = rollouts(output)
    assert [hosts for hosts, seconds in per_child] == children, f"one batch per child expected: {per_child}"
    record["rollout_seconds_per_child"] = dict((h, s) for h, s in per_child)
    record["load"] = {"sessions": load.ok + len(load.failures), "rate_per_s": round(load.rate, 1)}
    print(f"rollout per child: {per_child}; load {load.ok} ok at {load.rate:.1f}/s")
    assert load.rate >= MIN_RATE, f"the load ran at {load.rate:.1f}/s, below {MIN_RATE}/s: it proves nothing"
    assert load.failures == [], f"{len(load.failures)} of {load.ok + len(load.failures)} failed: {load.failures[:10]}"


def test_control_all_children_at_once_fails_requests(app_url, cafile, inventory, apps, children, artifacts, record):
    """Both replicas recreated in one batch without waiting: the same load sees failures."""
    changed_env = dict(next(a for a in apps if a["name"] == "main").get("env") or {}, DEMO_ROLLING_CONTROL=str(time.time()))
    rc, output, changed, load = _site_under_load(
        app_url, cafile, inventory,
        _with_main(apps, image=NEW_IMAGE, image_archive=str(NEW_ARCHIVE), env=changed_env),
        "-e", "streamlit_ops_rolling_batch=2", "-e", "streamlit_ops_drain_timeout=0")
    (Path(artifacts) / "rolling-control.log").write_text(output)
    assert rc == 0, output[-3000:]
    assert "all replaced in this batch" in " ".join(output.split()), "the run warns that the batch takes main down whole"
    record["control_failures"] = len(load.failures)
    assert load.failures, f"no request failed while both replicas were recreated at once ({load.ok} ok): the load sees nothing"


def test_back_to_the_scenario_rolls_out_with_no_failed_request(app_url, cafile, inventory, apps, children, artifacts, record):
    rc, output, changed, load = _site_under_load(app_url, cafile, inventory, apps)
    (Path(artifacts) / "rolling-1.0.log").write_text(output)
    assert rc == 0, output[-3000:]
    assert [_main_image(c) for c in children] == [apps[0]["image"]] * len(children)
    record["restore_rollout_seconds_per_child"] = dict(rollouts(output))
    assert load.rate >= MIN_RATE, f"the load ran at {load.rate:.1f}/s, below {MIN_RATE}/s"
    assert load.failures == [], f"{len(load.failures)} failed: {load.failures[:10]}"
    rc, output, changed = playbook("site.yml", inventory)
    assert rc == 0 and set(changed.values()) == {0}, f"the scenario's own run changes nothing now: {changed}"

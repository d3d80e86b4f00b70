"""A run killed halfway (a child drained and its containers being replaced,
the master not done): the next run takes over the dead run's lock at once,
re-admits the child and converges; a third run changes nothing. The
scenario's apps are restored at the end."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time

from hosts import ROOT, on, playbook

CONF = "/etc/nginx/conf.d/streamlit_ops_deploy.conf"


def _changed_apps(apps):
    changed = copy.deepcopy(apps)
    main = next(a for a in changed if a["name"] == "main")
    main["env"] = dict(main.get("env") or {}, DEMO_INTERRUPTED="1")
    return changed


def _drained(master):
    return " down;" in on(master, "cat", CONF).stdout


def test_killed_run_converges_on_the_next_and_the_third_changes_nothing(inventory, master, apps):
    changed_apps = _changed_apps(apps)
    extra = json.dumps({"streamlit_ops_apps": changed_apps})
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "site.yml", "-i", inventory, "-e", extra]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    run = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and run.poll() is None and not _drained(master):
            time.sleep(0.3)
        assert run.poll() is None, "the run ended before a child was drained"
        assert _drained(master), "no child was drained within 600 s"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=60)
    assert _drained(master), "control: the killed run left a child drained"

    rc, output, changed = playbook("site.yml", inventory, "-e", extra)
    assert rc == 0, output[-3000:]
    assert "Waiting up to" not in output, "the dead run's lock was not taken over at once"
    assert not _drained(master), "the next run did not re-admit the drained child"
    rc, output, changed = playbook("site.yml", inventory, "-e", extra)
    assert rc == 0 and sum(changed.values()) == 0, f"the third run changed something: {changed}"

    rc, output, changed = playbook("site.yml", inventory)
    assert rc == 0, output[-3000:]

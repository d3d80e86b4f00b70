"""Uploads through the master with a plain client that keeps cookies like a
browser: page, health, WebSocket, script run, then the PUT to
<path>_stcore/upload_file/<session id>/<file id> with the XSRF token.

Every request is a routing decision of its own, so with two children only
sticky routing lands the PUT on the process that holds the session. A browser
check alone is weak here: the control redeploys the app with `sticky: none`
(round-robin) and then every session loses an upload (400 Invalid session_id).

Each session uploads UPLOADS files one after another on one kept-alive
connection, so one Nginx worker routes them all. Round-robin alternates per
worker, so two consecutive uploads reach both children and one of them cannot
hold the session. One upload per session would not do: whether it meets the
WebSocket's child depends on which worker the kernel gave each connection,
and CI saw 2 and 6 of 12 lost where earlier runs lost most.
This module runs last: its control redeploys and restores the apps.
"""

import copy
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from stclient import fresh_session

ROOT = Path(__file__).resolve().parents[3]
SESSIONS = 12
UPLOADS = 3
SMALL = 64 * 1024
MIB = 1024 * 1024


def count_uploads(url, cafile, sessions=SESSIONS, size=SMALL):
    """The answers to every upload of `sessions` fresh sessions, and the sessions."""
    results = [fresh_session(url, cafile=cafile, upload_size=size, uploads=UPLOADS) for dummy in range(sessions)]
    return Counter(status for r in results for status in r.uploads), results


def site(inventory, apps=None):
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "site.yml", "-i", inventory]
    if apps is not None:
        cmd += ["-e", json.dumps({"streamlit_ops_apps": apps})]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env, check=False)
    return result.returncode, result.stdout + result.stderr


def test_every_upload_of_a_dozen_fresh_sessions_answers_204(app_url, cafile):
    counts, results = count_uploads(app_url, cafile)
    assert counts == Counter({204: SESSIONS * UPLOADS}), f"{counts}: " + "; ".join(map(str, results))


def test_upload_just_below_the_apps_limit_passes_the_proxy(app_url, cafile, apps):
    """max_upload_mb sets both limits, so Nginx never refuses what the app takes.
    Streamlit compares the whole request's Content-Length with its limit, so the
    largest file it takes is the limit less the multipart framing (a few hundred
    bytes); one byte over the limit is refused."""
    limit = next(a for a in apps if a["name"] == "main")["max_upload_mb"] * MIB
    below = fresh_session(app_url, cafile=cafile, upload_size=limit - 4096)
    assert below.upload == 204, below
    over = fresh_session(app_url, cafile=cafile, upload_size=limit + 1)
    assert over.upload == 413, over


def test_control_40_mb_over_a_30_mb_app_is_refused(strict_url, cafile, apps):
    limit = next(a for a in apps if a["name"] == "strict")["max_upload_mb"]
    assert limit < 40
    seen = fresh_session(strict_url, cafile=cafile, upload_size=40 * MIB)
    assert seen.session_id and seen.upload == 413, seen


@pytest.fixture
def round_robin(inventory, apps):
    """The main app redeployed with sticky: none, and the inventory's apps restored after."""
    changed = copy.deepcopy(apps)
    for app in changed:
        if app["name"] == "main":
            app["sticky"] = "none"
    rc, out = site(inventory, changed)
    assert rc == 0, out[-3000:]
    try:
        yield
    finally:
        rc, out = site(inventory)
        assert rc == 0, f"restoring the apps failed: {out[-3000:]}"


def test_control_round_robin_loses_an_upload_in_every_session(round_robin, app_url, cafile):
    counts, results = count_uploads(app_url, cafile)
    print(f"round-robin upload answers over {SESSIONS} sessions of {UPLOADS} uploads: {dict(counts)}")
    detail = f"{counts}: " + "; ".join(map(str, results))
    assert set(counts) == {204, 400}, detail
    assert all(400 in r.uploads for r in results), detail
    assert all(re.search("Invalid session_id", r.upload_body) for r in results), detail


def test_sticky_again_after_the_control(app_url, cafile):
    counts, results = count_uploads(app_url, cafile, sessions=4)
    assert counts == Counter({204: 4 * UPLOADS}), f"{counts}: " + "; ".join(map(str, results))

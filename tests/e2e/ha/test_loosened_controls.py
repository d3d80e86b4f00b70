"""The controls that need the main app loosened, from one redeploy: `sticky:
none` (round-robin) and `origin_policy: open`. Each proves a positive check
elsewhere is the collection's doing: the sticky uploads
(test_sticky_uploads.py) and the origin guard's 403 (test_origin_guard.py).
The last check restores the scenario's apps and sees both come back.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from hosts import at_once, playbook
from stclient import SESSIONS, UPLOADS, count_uploads
from upgrade import FOREIGN


class Loosened:
    """main redeployed with round-robin routing and every origin let through."""

    def __init__(self, inventory: str, apps: list[dict], children: list[str]):
        self.inventory = inventory
        self.apps = apps
        self.args = at_once(children)
        self.restored = False

    def deploy(self) -> None:
        loosened = [dict(app, sticky="none", origin_policy="open") if app["name"] == "main" else app for app in self.apps]
        rc, out, dummy = playbook("site.yml", self.inventory, *self.args, "-e", json.dumps({"streamlit_ops_apps": loosened}))
        assert rc == 0, out[-3000:]

    def restore(self) -> None:
        if not self.restored:
            self.restored = True
            rc, out, dummy = playbook("site.yml", self.inventory, *self.args)
            assert rc == 0, f"restoring the apps failed: {out[-3000:]}"


@pytest.fixture(scope="module")
def loosened(inventory, apps, children):
    state = Loosened(inventory, apps, children)
    try:
        state.deploy()
        yield state
    finally:
        state.restore()


def test_control_round_robin_loses_an_upload_in_every_session(loosened, app_url, cafile):
    counts, results = count_uploads(app_url, cafile)
    print(f"round-robin upload answers over {SESSIONS} sessions of {UPLOADS} uploads: {dict(counts)}")
    detail = f"{counts}: " + "; ".join(map(str, results))
    assert set(counts) == {204, 400}, detail
    assert all(400 in r.uploads for r in results), detail
    assert all(re.search("Invalid session_id", r.upload_body) for r in results), detail


def test_control_open_lets_every_origin_through(loosened, ask, paths):
    """Streamlit itself keeps server.enableCORS=false: the foreign Origin gets
    its 101; strict, not loosened, still refuses it."""
    assert ask(paths["main"], FOREIGN) == 101
    assert ask(paths["strict"], FOREIGN) == 403


def test_sticky_and_the_guard_are_back_once_restored(loosened, app_url, cafile, ask, paths):
    loosened.restore()
    counts, results = count_uploads(app_url, cafile, sessions=4)
    assert counts == Counter({204: 4 * UPLOADS}), f"{counts}: " + "; ".join(map(str, results))
    assert ask(paths["main"], FOREIGN) == 403

"""run_lock's action plugin on the controller: which holder is a dead run of
this controller (taken over at once) and which must wait for its lease."""

from __future__ import annotations

import os

from ansible_collections.streamlit_ops.deploy.plugins.action import run_lock as action


def test_dead_holder_on_this_controller():
    me = action._this_run()
    assert not action._gone(me, me["controller"]), "the running ansible-playbook (here: pytest's parent) is alive"
    dead = dict(me, pid=2 ** 22 + 7, token=f"{me['controller']}:{2 ** 22 + 7}:None")
    assert action._gone(dead, me["controller"])
    assert not action._gone(dead, "another-controller"), "another controller's holder waits for its lease"
    reused = dict(me, token=f"{me['controller']}:{me['pid']}:1")
    assert action._gone(reused, me["controller"]), "a reused pid with another start time is not the holder"
    assert os.getppid() == me["pid"]

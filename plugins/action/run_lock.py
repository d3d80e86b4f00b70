# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Controller side of streamlit_ops.deploy.run_lock: who this run is, whether a holder still runs, the wait."""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

_MODULE = "streamlit_ops.deploy.run_lock"
_POLL = 2.0


def _start_ticks(pid):
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _this_run():
    # The task runs in a worker forked from ansible-playbook: its parent is the run.
    pid = os.getppid()
    controller = socket.gethostname()
    ticks = _start_ticks(pid)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "controller": controller,
        "user": getpass.getuser(),
        "pid": pid,
        "started": started,
        "token": f"{controller}:{pid}:{ticks}",
    }


def _gone(holder, controller):
    """A holder from this controller whose process (pid and start) no longer runs."""
    if holder.get("controller") != controller or "token" not in holder:
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    ticks = _start_ticks(pid)
    if ticks is not None:
        # Running, but is it the holder or a later process given the same pid?
        return holder["token"] != f"{controller}:{pid}:{ticks}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # No /proc (not Linux): a live pid is taken for the holder.
    return False


def describe(holder, path, host):
    renewed = holder.get("renewed")
    renewed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(renewed)) if isinstance(renewed, (int, float)) else "unknown"
    return (f"controller {holder.get('controller', '?')}, user {holder.get('user', '?')}, pid {holder.get('pid', '?')}, "
            f"started {holder.get('started', '?')}, last renewed {renewed} (lock file {path} on {host})")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "state", "wait", "lease"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        me = _this_run()
        args["holder"] = me
        wait = int(args.get("wait", 300))
        host = (task_vars or {}).get("inventory_hostname", "?")
        start = time.monotonic()
        announced = False
        while True:
            out = self._execute_module(module_name=_MODULE, module_args=args, task_vars=task_vars)
            if out.get("failed") or out.get("acquired") or args.get("state") in ("absent", "query") or self._task.check_mode:
                out["waited"] = round(time.monotonic() - start, 1)
                result.update(out)
                return result
            holder = out.get("holder") or {}
            if _gone(holder, me["controller"]):
                # An interrupted run on this controller: take its lock over at once.
                args["take_over"] = holder["token"]
                continue
            waited = time.monotonic() - start
            if waited >= wait:
                raise AnsibleActionFail(
                    f"Another run of the Streamlit deployment holds the run lock: {describe(holder, out.get('path'), host)}. "
                    f"Waited {waited:.0f} s (streamlit_ops_lock_wait {wait}). Run again when it has finished; if that run "
                    f"is gone (its controller died), its lease ends {args.get('lease', 900)} s after its last renewal, "
                    f"or delete the lock file once you are sure nothing runs.")
            if not announced:
                display.display(f"Waiting up to {wait} s for the run lock held by {describe(holder, out.get('path'), host)}")
                announced = True
            time.sleep(min(_POLL, max(wait - waited, 0.1)))

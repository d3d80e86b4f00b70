#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Reload Nginx and report whether the new configuration was taken."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_reload
short_description: Reload Nginx and fail when the new configuration did not take
description:
  - Sends SIGHUP to the running Nginx master, as C(nginx -s reload) and C(systemctl reload nginx) do, then waits
    for the proof that the master took the new configuration, new worker processes.
  - A reload can fail after C(nginx -t) passed, for example when a listen port is already taken by another process.
    Nginx then logs the error, keeps its old configuration and workers, and the signal itself still "succeeds".
    This module fails instead, with the error lines Nginx logged since the signal.
  - Does nothing, unchanged, when no Nginx master is running (there is nothing to reload; starting it reads the
    configuration afresh).
version_added: "1.1.0"
author: streamlit_ops maintainers (!UNKNOWN)
options:
  pid_file:
    description: The Nginx master's pid file.
    type: path
    default: /run/nginx.pid
  error_log:
    description: The error log the master writes to; the failure message quotes what it logged after the signal.
    type: path
    default: /var/log/nginx/error.log
  timeout:
    description: Seconds to wait, in all, for the running master's workers and then for the new ones.
    type: int
    default: 15
notes:
  - Check mode reports a change without sending the signal.
"""

EXAMPLES = r"""
- name: Reload Nginx
  streamlit_ops.deploy.nginx_reload:
"""

RETURN = r"""
workers:
  description: The pids of the new worker processes.
  returned: success
  type: list
  elements: int
errors:
  description: The C([emerg]), C([alert]) and C([crit]) lines Nginx logged after the signal.
  returned: always
  type: list
  elements: str
"""

import os
import re
import signal
import time

from ansible.module_utils.basic import AnsibleModule

SEVERE = re.compile(r"\[(emerg|alert|crit)\]")


def master_pid(pid_file: str) -> int | None:
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def children(pid: int) -> set[int]:
    """The processes whose parent is pid (Nginx's workers and cache processes)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.add(int(entry))
    return found


def log_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def severe_lines(path: str, offset: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            handle.seek(offset if log_size(path) >= offset else 0)
            return [line.rstrip("\n") for line in handle if SEVERE.search(line)]
    except OSError:
        return []


def settled_children(pid: int, deadline: float) -> set[int]:
    """The master's processes once it has started them all. A master signalled
    right after its own start (a restart just before) may not have forked its
    first workers yet, and they would then pass for the reload's new ones."""
    found = children(pid)
    while time.monotonic() < deadline:
        time.sleep(0.1)
        again = children(pid)
        if found and again == found:
            break
        found = again
    return found


def reload(pid_file: str, error_log: str, timeout: int) -> tuple[bool, list[int], list[str]]:
    """(took, new workers, error lines) after one SIGHUP to the master."""
    pid = master_pid(pid_file)
    deadline = time.monotonic() + timeout
    before = settled_children(pid, deadline)
    offset = log_size(error_log)
    os.kill(pid, signal.SIGHUP)
    while True:
        errors = severe_lines(error_log, offset)
        new = sorted(children(pid) - before)
        # A failed reload starts no worker; a good one starts them all before
        # the old ones are told to quit.
        if new:
            return True, new, errors
        if errors or time.monotonic() > deadline:
            # The error is logged before the master gives up; give it a moment
            # in case workers still come (a non-fatal [crit], e.g.).
            time.sleep(0.5)
            new = sorted(children(pid) - before)
            return bool(new), new, severe_lines(error_log, offset)
        time.sleep(0.1)


def main():
    module = AnsibleModule(
        argument_spec={
            "pid_file": {"type": "path", "default": "/run/nginx.pid"},
            "error_log": {"type": "path", "default": "/var/log/nginx/error.log"},
            "timeout": {"type": "int", "default": 15},
        },
        supports_check_mode=True,
    )
    params = module.params
    if master_pid(params["pid_file"]) is None:
        module.exit_json(changed=False, workers=[], errors=[], msg="Nginx is not running: nothing to reload.")
    if module.check_mode:
        module.exit_json(changed=True, workers=[], errors=[])
    took, workers, errors = reload(params["pid_file"], params["error_log"], params["timeout"])
    if not took:
        cause = "\n".join(errors) or f"no error logged in {params['error_log']}, and no new worker within {params['timeout']} s"
        module.fail_json(
            msg=f"Nginx did not take the new configuration (nginx -t had passed); it keeps serving the old one. Nginx says:\n{cause}",
            workers=[], errors=errors,
        )
    module.exit_json(changed=True, workers=workers, errors=errors)


if __name__ == "__main__":
    main()

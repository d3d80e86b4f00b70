#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Take, renew or release the lock that keeps two runs of the site playbook apart."""

from __future__ import annotations

DOCUMENTATION = r"""
module: run_lock
short_description: Keep two playbook runs against one deployment apart with a lock file on the master
description:
  - Takes, renews or releases a lock file on the host it runs on (the site playbook uses its first master).
    The file names its holder (controller host, user, process id and its start, start time), so a run that
    finds it taken can say who holds it.
  - The action plugin of the same name runs on the controller; it retries while another run holds the lock,
    up to O(wait) seconds, and takes over at once a lock whose holder ran on this controller and is no
    longer running (an interrupted run). Any other holder keeps the lock until its lease ends, O(lease)
    seconds after it last took or renewed it (by the master's clock); then the lock is taken over.
  - Every read and write of the lock file happens under an exclusive C(flock) of C(PATH.guard) on the
    host, so of two runs that both see a free or dead lock, exactly one takes it.
  - C(PATH.guard) also counts the takes since the host booted (RV(generation)). A run that read something
    before it took the lock can tell from it that no other run took the lock in between, when the lock was
    free as it read (V(state=query), RV(held)) and its own take is the next one.
version_added: "1.1.0"
author: streamlit_ops maintainers (!UNKNOWN)
options:
  path:
    description: The lock file.
    type: path
    default: /run/streamlit_ops_deploy.lock
  state:
    description:
      - V(present) takes the lock for this run or renews it when this run holds it; V(absent) releases it
        when this run holds it (another run's lock is left alone); V(query) changes nothing and returns
        RV(held) and RV(generation).
    type: str
    choices: [present, absent, query]
    default: present
  wait:
    description: Seconds to wait while another run holds the lock; then the task fails naming the holder.
    type: int
    default: 300
  lease:
    description: Seconds after its last renewal when another controller's lock is taken over.
    type: int
    default: 900
  holder:
    description: Set by the action plugin (this run's identity); not for playbooks.
    type: dict
  take_over:
    description: Set by the action plugin (the token of a lock to replace); not for playbooks.
    type: str
attributes:
  check_mode:
    description: Changes nothing in check mode (a check run neither takes nor waits for the lock; V(query) answers).
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
  action:
    description: The action plugin runs on the controller and calls this module on the host.
    support: full
"""

EXAMPLES = r"""
- name: Take the run lock on the first master, waiting up to 5 minutes
  streamlit_ops.deploy.run_lock:
    wait: 300
  run_once: true
  delegate_to: "{{ groups['streamlit_master'] | first }}"

- name: Before reading the children, note whether another run holds the lock and how often it was taken
  streamlit_ops.deploy.run_lock:
    state: query
  register: lock_seen
  run_once: true
  delegate_to: "{{ groups['streamlit_master'] | first }}"

- name: Release it at the end of the run
  streamlit_ops.deploy.run_lock:
    state: absent
  run_once: true
  delegate_to: "{{ groups['streamlit_master'] | first }}"
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lock now (V(false) after a release).
  returned: always
  type: bool
holder:
  description: The holder the lock file names after the call (empty when there is none).
  returned: always
  type: dict
  sample: {"controller": "ops1", "user": "deploy", "pid": 4242, "started": "2026-11-30T20:01:02Z", "token": "ops1:4242:987"}
taken_over:
  description: The holder this run replaced (an interrupted or expired run), if any.
  returned: when a lock was taken over
  type: dict
held:
  description: Whether a lock file was there when the call began, whoever holds it, expired or not.
  returned: always
  type: bool
generation:
  description:
    - How many times a run took the lock (a first take or a take-over, not a renewal) since the host booted,
      after this call. C(boot_id) is the host's, so counts from before a reboot never compare equal.
  returned: always
  type: dict
  sample: {"boot_id": "5d1c7a6e-3f0b-4f5e-9a57-2b1b8f0d6c11", "takes": 12}
waited:
  description: Seconds this run waited for another run's lock.
  returned: always
  type: float
path:
  description: The lock file.
  returned: always
  type: str
"""

import fcntl
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        # A torn or foreign file: treat it as held by an unknown, expiring holder.
        return {"token": "unreadable", "renewed": os.stat(path).st_mtime}


def _write_new(path, content):
    """Create the file only if it does not exist: the atomic 'take'."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle)


def _replace(path, content):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(content, handle)
    os.replace(tmp, path)


def _boot_id():
    try:
        with open(BOOT_ID, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _generation(fd):
    """The takes the guard file counts, reset when the host booted since they were counted."""
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        found = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except ValueError:
        found = {}
    if not isinstance(found, dict):
        found = {}
    boot_id = _boot_id()
    takes = found.get("takes") if found.get("boot_id") == boot_id else 0
    return {"boot_id": boot_id, "takes": takes if isinstance(takes, int) else 0}


def _count_take(fd):
    generation = _generation(fd)
    generation["takes"] += 1
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(generation).encode("utf-8"))
    return generation


def _query(path):
    """Whether a lock file is there and the count of takes, read under a shared flock; creates nothing."""
    try:
        guard = os.open(f"{path}.guard", os.O_RDONLY)
    except FileNotFoundError:
        current = _read(path)
        return current, {"boot_id": _boot_id(), "takes": 0}
    with os.fdopen(guard, "rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        return _read(path), _generation(handle.fileno())


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/run/streamlit_ops_deploy.lock"},
            "state": {"type": "str", "choices": ["present", "absent", "query"], "default": "present"},
            "wait": {"type": "int", "default": 300},
            "lease": {"type": "int", "default": 900},
            "holder": {"type": "dict"},
            "take_over": {"type": "str", "no_log": False},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    holder = dict(module.params["holder"] or {})
    token = holder.get("token")
    if not token:
        module.fail_json(msg="run_lock needs its action plugin (holder is set by it): call it as streamlit_ops.deploy.run_lock.")
    result = {"changed": False, "path": path, "waited": 0.0}
    if module.params["state"] == "query" or module.check_mode:
        current, generation = _query(path)
        module.exit_json(acquired=bool(current) and current.get("token") == token, held=current is not None,
                         holder=current or {}, generation=generation, **result)
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    # Held until the module exits: the read, the decision and the write are one step.
    guard = os.open(f"{path}.guard", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(guard, fcntl.LOCK_EX)
    now = time.time()
    current = _read(path)
    result["held"] = current is not None

    if module.params["state"] == "absent":
        if current and current.get("token") == token:
            os.unlink(path)
            current = None
        module.exit_json(acquired=False, holder=current or {}, generation=_generation(guard), **result)

    holder["renewed"] = now
    if current is None:
        _write_new(path, holder)
        module.exit_json(acquired=True, holder=holder, generation=_count_take(guard), **result)
    if current.get("token") == token:
        holder["started"] = current.get("started", holder.get("started"))
        _replace(path, holder)
        module.exit_json(acquired=True, holder=holder, generation=_generation(guard), **result)
    expired = now - float(current.get("renewed", 0)) > module.params["lease"]
    if expired or current.get("token") == module.params["take_over"]:
        _replace(path, holder)
        module.exit_json(acquired=True, holder=holder, taken_over=current, generation=_count_take(guard), **result)
    module.exit_json(acquired=False, holder=current, generation=_generation(guard), **result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Wait, in one module run, until a check command exits 0 in each of several containers."""

from __future__ import annotations

DOCUMENTATION = r"""
module: container_health
short_description: Wait until a check command passes in each of several containers, in one module run
description:
  - Runs each container's O(checks[].argv) in it, as C(docker exec) does, every O(interval) seconds until it
    exits 0, and stops at the first pass. All the containers share one deadline, O(timeout) seconds from the
    start, because they were started together.
  - Polls inside one module run, so waiting for many containers costs the host one Python start, not one
    per container and attempt as a retried task would.
  - Talks to the engine's HTTP API over O(docker_socket) with the standard library only; needs no Docker SDK.
  - Fails when any container has not passed by the deadline, returning each one's last check output and the
    tail of its logs.
version_added: "1.1.0"
author: streamlit_ops maintainers (!UNKNOWN)
options:
  checks:
    description: The containers and the command that passes (exits 0) once each is ready.
    type: list
    elements: dict
    required: true
    suboptions:
      container:
        description: The container's name or ID.
        type: str
        required: true
      argv:
        description: The check command and its arguments, run without a shell.
        type: list
        elements: str
        required: true
  timeout:
    description: Seconds from the start until the wait gives up on the containers that have not passed.
    type: int
    required: true
  interval:
    description: Seconds between two rounds of checks.
    type: float
    default: 1.0
  logs_tail:
    description: Lines of each failing container's logs to return.
    type: int
    default: 40
  docker_socket:
    description: The Docker engine's socket.
    type: path
    default: /var/run/docker.sock
attributes:
  check_mode:
    description: Runs the checks in check mode too; they change nothing.
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
"""

EXAMPLES = r"""
- name: Wait until the app answers on its health path
  streamlit_ops.deploy.container_health:
    checks:
      - container: streamlit-demo
        argv: [curl, --fail, --silent, http://127.0.0.1:8501/_stcore/health]
    timeout: 60
"""

RETURN = r"""
healthy:
  description: The containers whose check passed, in the order of O(checks).
  type: list
  elements: str
  returned: always
unhealthy:
  description: The containers whose check had not passed by the deadline, in the order of O(checks).
  type: list
  elements: dict
  returned: always
  contains:
    container:
      description: The container as given.
      type: str
    rc:
      description: The last check's exit code; null when it could not run (the container is not running, say).
      type: int
    output:
      description: The last check's output (stdout and stderr), or why it could not run.
      type: str
    logs:
      description: The last O(logs_tail) lines of the container's logs.
      type: str
probes:
  description: How many checks ran in all.
  type: int
  returned: always
seconds:
  description: How long the wait took.
  type: float
  returned: always
"""

import http.client
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.docker_engine import exec_run, logs

ARGUMENT_SPEC = {
    "checks": {"type": "list", "elements": "dict", "required": True, "options": {
        "container": {"type": "str", "required": True},
        "argv": {"type": "list", "elements": "str", "required": True},
    }},
    "timeout": {"type": "int", "required": True},
    "interval": {"type": "float", "default": 1.0},
    "logs_tail": {"type": "int", "default": 40},
    "docker_socket": {"type": "path", "default": "/var/run/docker.sock"},
}
# One check that hangs gets at most this long (or what is left of the wait).
PROBE_TIMEOUT = 30
ENGINE_ERRORS = (OSError, http.client.HTTPException, ValueError)


def probe(socket_path, check, timeout):
    """(exit code, output) of one check; None and the reason when it could not run."""
    try:
        return exec_run(socket_path, check["container"], check["argv"], timeout)
    except ENGINE_ERRORS as error:
        return None, f"the Docker engine at {socket_path}: {error}"


def wait(checks, timeout, interval, socket_path, clock=time.monotonic, sleep=time.sleep):
    """Check every container each round until each has passed or the deadline is reached:
    (healthy names, {container: (rc, output)} of the rest, number of checks)."""
    start = clock()
    deadline = start + timeout
    pending = [check["container"] for check in checks]
    by_name = {check["container"]: check for check in checks}
    last, probes = {}, 0
    # Bounded by the deadline and, should the clock stall, by count.
    for dummy in range(int(timeout / max(interval, 0.05)) + 2):
        for name in list(pending):
            left = max(1.0, min(PROBE_TIMEOUT, deadline - clock()))
            rc, output = probe(socket_path, by_name[name], left)
            probes += 1
            if rc == 0:
                pending.remove(name)
            else:
                last[name] = (rc, output)
        if not pending or clock() >= deadline:
            break
        sleep(max(0.0, min(interval, deadline - clock())))
    healthy = [check["container"] for check in checks if check["container"] not in pending]
    return healthy, {name: last.get(name, (None, "not checked")) for name in pending}, probes


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["timeout"] < 0 or params["interval"] <= 0:
        module.fail_json(msg="timeout must be 0 or more and interval more than 0 seconds")
    # Two checks of one container would wait twice; its first entry is the one that counts.
    first = {}
    for check in params["checks"]:
        first.setdefault(check["container"], check)
    checks = list(first.values())
    started = time.monotonic()
    healthy, failing, probes = wait(checks, params["timeout"], params["interval"], params["docker_socket"])
    unhealthy = []
    for name, (rc, output) in failing.items():
        try:
            tail = logs(params["docker_socket"], name, params["logs_tail"], PROBE_TIMEOUT)
        except ENGINE_ERRORS as error:
            tail = f"no logs: {error}"
        unhealthy.append({"container": name, "rc": rc, "output": output, "logs": tail})
    result = {"changed": False, "healthy": healthy, "unhealthy": unhealthy, "probes": probes,
              "seconds": round(time.monotonic() - started, 2)}
    if unhealthy:
        module.fail_json(msg=f"{', '.join(failing)} did not pass {'its' if len(failing) == 1 else 'their'} check within "
                             f"{params['timeout']} s", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

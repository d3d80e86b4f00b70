#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Count the master's established connections to each backend, and read whether Nginx routes to it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: backend_sessions
short_description: Count a proxy host's open connections to its backends, optionally until they reach zero
description:
  - Counts the established TCP connections from this host to each backend C(ADDRESS:PORT), read from
    C(/proc/net/tcp) and C(/proc/net/tcp6) of the host's network namespace. On the Nginx master of the
    collection these are the live proxied connections (one per open WebSocket session, plus idle keepalive
    connections of plain HTTP requests).
  - With O(wait_timeout) above 0 it polls until every listed backend has no established connection or the
    timeout passes; the drain of the site playbook waits this way before it recreates a child's containers.
  - With O(config) it also reports whether the live Nginx configuration routes to each backend
    (a C(server) line for it without C(down)).
  - Reads only; it changes nothing.
version_added: "1.1.0"
author: streamlit_ops maintainers (!UNKNOWN)
options:
  backends:
    description: Backends as C(ADDRESS:PORT), IPv6 addresses in brackets (C([2001:db8::1]:8501)).
    type: list
    elements: str
    required: true
  wait_timeout:
    description: Seconds to wait for every backend's count to reach 0; 0 reads once.
    type: int
    default: 0
  poll_interval:
    description: Seconds between two reads while waiting.
    type: float
    default: 0.5
  config:
    description: An Nginx file with the upstream C(server) lines whose state to report (see RV(backends)).
    type: path
extends_documentation_fragment:
  - streamlit_ops.deploy.read_only
"""

EXAMPLES = r"""
- name: Count the sessions each child holds
  streamlit_ops.deploy.backend_sessions:
    backends: [10.0.0.11:8501, 10.0.0.12:8501]
    config: /etc/nginx/conf.d/streamlit_ops_deploy.conf
  register: sessions

- name: Wait up to 30 s until no connection to a drained child is left
  streamlit_ops.deploy.backend_sessions:
    backends: [10.0.0.11:8501]
    wait_timeout: 30
"""

RETURN = r"""
backends:
  description: >-
    For each backend of O(backends): C(established), the count of established connections to it;
    with O(config), C(listed) (a C(server) line names it) and C(down) (that line carries C(down)).
  returned: always
  type: dict
  sample: {"10.0.0.11:8501": {"established": 3, "listed": true, "down": false}}
total:
  description: The sum of the established counts.
  returned: always
  type: int
drained:
  description: Whether the last read counted no established connection to any listed backend.
  returned: always
  type: bool
waited:
  description: Seconds spent waiting (0 without O(wait_timeout)).
  returned: always
  type: float
"""

import ipaddress
import re
import socket
import time

from ansible.module_utils.basic import AnsibleModule

_ESTABLISHED = "01"


def _parse_backend(text):
    """ADDRESS:PORT or [ADDRESS]:PORT -> (ipaddress object, port)."""
    host, port = text.rsplit(":", 1)
    host = host.strip("[]")
    return ipaddress.ip_address(host), int(port)


def _proc_address(field, family):
    """An address of /proc/net/tcp{,6}: hex in host byte order, 32-bit words."""
    addr, port = field.split(":")
    raw = bytes.fromhex(addr)
    # Each 32-bit word is in the kernel's (little-endian on every host we run) order.
    words = [raw[i:i + 4][::-1] for i in range(0, len(raw), 4)]
    packed = b"".join(words)
    ip = ipaddress.ip_address(socket.inet_ntop(family, packed))
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip, int(port, 16)


def count_established(wanted, proc_files=(("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6))):
    """Established connections whose remote end is one of wanted ((ip, port) -> name)."""
    counts = dict.fromkeys(wanted.values(), 0)
    for path, family in proc_files:
        try:
            with open(path, encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _ESTABLISHED:
                continue
            name = wanted.get(_proc_address(fields[2], family))
            if name is not None:
                counts[name] += 1
    return counts


def read_config(path, names):
    """Per backend: whether a server line names it, and whether that line says down."""
    state = {name: {"listed": False, "down": False} for name in names}
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return state
    for match in re.finditer(r"^\s*server\s+(\S+)([^;]*);", text, re.MULTILINE):
        if match.group(1) in state:
            entry = state[match.group(1)]
            entry["listed"] = True
            entry["down"] = entry["down"] or "down" in match.group(2).split()
    return state


def main():
    module = AnsibleModule(
        argument_spec={
            "backends": {"type": "list", "elements": "str", "required": True},
            "wait_timeout": {"type": "int", "default": 0},
            "poll_interval": {"type": "float", "default": 0.5},
            "config": {"type": "path"},
        },
        supports_check_mode=True,
    )
    wanted = {}
    for backend in module.params["backends"]:
        try:
            wanted[_parse_backend(backend)] = backend
        except ValueError:
            module.fail_json(msg=f"backends: {backend!r} is not ADDRESS:PORT ([ADDRESS]:PORT for IPv6).")
    names = list(module.params["backends"])
    timeout = max(module.params["wait_timeout"], 0)
    start = time.monotonic()
    counts = count_established(wanted)
    while timeout and sum(counts.values()) and time.monotonic() - start < timeout:
        time.sleep(max(module.params["poll_interval"], 0.05))
        counts = count_established(wanted)
    waited = round(time.monotonic() - start, 2) if timeout else 0.0
    config = read_config(module.params["config"], names) if module.params["config"] else {}
    result = {name: dict(established=counts[name], **config.get(name, {})) for name in names}
    module.exit_json(changed=False, backends=result, total=sum(counts.values()),
                     drained=sum(counts.values()) == 0, waited=waited)


if __name__ == "__main__":
    main()

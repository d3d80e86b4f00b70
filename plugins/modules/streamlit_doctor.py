#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Diagnose a Streamlit app behind proxies from outside, as a browser would."""

from __future__ import annotations

DOCUMENTATION = r"""
module: streamlit_doctor
short_description: Diagnose a Streamlit app behind proxies and name the setting that fixes each failure
description:
  - Probes the app at O(url) from the host it runs on, as a browser would, and reports for each check C(pass),
    C(fail) or C(skip), with its evidence and, for a failure, the one fix, named as the setting to change.
  - "The checks, by their stable names: C(access) (opt-in, for an app behind access control: without the O(headers)
    and without cookies, the page, the upgrade of C(<path>_stcore/stream) and an upload are all refused alike, with
    401, 403 or a redirect away from the app such as a sign-in page); C(page) (the URL answers 200 with Streamlit's
    page and the path without its trailing slash redirects to it); C(health) (C(<path>_stcore/health) answers C(ok);
    a prefix the proxy strips or a wrong C(server.baseUrlPath) shows here); C(websocket) (the upgrade of
    C(<path>_stcore/stream) with the page's own Origin answers 101 with a valid C(Sec-WebSocket-Accept), and a rerun
    gets the script's messages); C(origin) (the policy seen for a foreign Origin: C(any), C(same-origin) or
    C(allow-list)); C(upload) (an upload through the session); C(sticky) (over O(sticky_sessions) fresh sessions,
    every upload reaches the replica that holds its session); C(compression) (the main JavaScript bundle comes
    compressed); C(scheme) (over HTTPS no redirect or asset goes to C(http://); HSTS is reported); C(idle) (opt-in:
    the WebSocket survives O(idle_s) seconds idle); C(intermediaries) (headers and cookies that reveal a CDN or load
    balancer, with what to know about each)."
  - Each cause is reported by one check. A check that needs an earlier one that failed is a C(skip) pointing to
    it, and a symptom that another check explains is left to that check (for example the page's 404 when
    C(health) finds that the proxy strips the path prefix).
  - Fails when any check that ran failed; RV(checks) and RV(table) are returned either way.
  - Without O(validate_certs) a self-signed certificate is still reported as such (RV(tls)); the smoke check uses
    O(allow_self_signed) for a master's self-signed certificate.
  - The post-deploy smoke check of the nginx_proxy role runs this module on the master.
  - Reads only; it changes nothing. Uploads go to the app's own upload endpoint and are dropped with the session.
version_added: "1.1.0"
author: streamlit_ops maintainers (!UNKNOWN)
options:
  url:
    description: The app's public URL, for example C(https://apps.example.com/streamlitApp/). A missing trailing slash is added.
    type: str
    required: true
  checks:
    description: The checks to run, by name; every check except C(idle) and C(access) by default.
    type: list
    elements: str
    choices: [access, page, health, websocket, origin, upload, sticky, compression, scheme, idle, intermediaries]
  idle:
    description: Also run the opt-in C(idle) check, as if O(checks) named it.
    type: bool
    default: false
  connect_address:
    description:
      - Connect to this address instead of the host in O(url). The C(Host) header and TLS server name still come
        from O(url), like C(curl --resolve).
    type: str
  origin:
    description: The C(Origin) the page's WebSocket sends; the scheme, host and port of O(url) by default.
    type: str
  expect_origin:
    description:
      - The origin policy the C(origin) check requires; without it the policy is only reported.
      - V(guarded) accepts V(same-origin) and V(allow-list).
    type: str
    choices: [any, same-origin, allow-list, guarded]
  upload_mb:
    description: The size of the C(upload) check's file in MB (MiB); 16 KB when omitted.
    type: float
  sticky_sessions:
    description: The fresh sessions the C(sticky) check opens, four at a time.
    type: int
    default: 8
  idle_s:
    description: Seconds the C(idle) check keeps the WebSocket idle.
    type: int
    default: 120
  headers:
    description: Extra headers for every request, for example C(Authorization) for an app behind a login.
    type: dict
    default: {}
  timeout:
    description: Seconds allowed for each connection and answer.
    type: int
    default: 10
extends_documentation_fragment:
  - streamlit_ops.deploy.read_only
  - streamlit_ops.deploy.tls_client
"""

EXAMPLES = r"""
- name: Diagnose an app from the controller
  streamlit_ops.deploy.streamlit_doctor:
    url: https://apps.example.com/streamlitApp/
  delegate_to: localhost
  register: doctor

- name: Check a master's own listener, idle timeouts included
  streamlit_ops.deploy.streamlit_doctor:
    url: https://apps.example.com/streamlitApp/
    connect_address: 127.0.0.1
    checks: [page, health, websocket, idle]
    idle_s: 90
"""

RETURN = r"""
checks:
  description: >-
    Each check that ran, by name, in the order above: C(result) (V(pass), V(fail) or V(skip)), C(evidence),
    C(fix) (empty unless it failed), C(cause) (a stable key for the failure's cause) and C(details).
  returned: always
  type: dict
failed_checks:
  description: The names of the checks that failed.
  returned: always
  type: list
  elements: str
table:
  description: The report as aligned lines, CHECK, RESULT, EVIDENCE and FIX.
  returned: always
  type: list
  elements: str
tls:
  description: Over HTTPS, C(verified), C(self_signed) and, when verification failed, C(error).
  returned: always
  type: dict
invalid_option:
  description: The option that failed validation, when one did.
  returned: on a bad option
  type: str
"""

from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.streamlit_doctor import (
    CHECKS,
    DEFAULT_CHECKS,
    ORIGIN_EXPECTATIONS,
    Doctor,
    table,
)

ARGUMENT_SPEC = {
    "url": {"type": "str", "required": True},
    "checks": {"type": "list", "elements": "str", "choices": list(CHECKS)},
    "idle": {"type": "bool", "default": False},
    "connect_address": {"type": "str"},
    "origin": {"type": "str"},
    "expect_origin": {"type": "str", "choices": list(ORIGIN_EXPECTATIONS)},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "allow_self_signed": {"type": "bool", "default": False},
    "upload_mb": {"type": "float"},
    "sticky_sessions": {"type": "int", "default": 8},
    "idle_s": {"type": "int", "default": 120},
    "headers": {"type": "dict", "default": {}},
    "timeout": {"type": "int", "default": 10},
}


def invalid(params: dict):
    """(option, message) of the first option with a value the doctor cannot use."""
    parts = urlsplit(params["url"])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "url", f"url {params['url']!r} is not an http(s) URL with a host, for example https://apps.example.com/app/."
    if parts.query or parts.fragment:
        return "url", f"url {params['url']!r} has a query or fragment; give the app's URL only, for example {parts.scheme}://{parts.netloc}{parts.path}."
    if params["origin"] is not None:
        origin = urlsplit(params["origin"])
        if origin.scheme not in ("http", "https") or not origin.hostname or origin.path not in ("", "/"):
            return "origin", f"origin {params['origin']!r} is not scheme://host[:port], for example https://apps.example.com."
    if params["upload_mb"] is not None and not 0 < params["upload_mb"] <= 4096:
        return "upload_mb", f"upload_mb {params['upload_mb']} must be above 0 and at most 4096 (MB)."
    if not 1 <= params["sticky_sessions"] <= 200:
        return "sticky_sessions", f"sticky_sessions {params['sticky_sessions']} must be between 1 and 200."
    if not 1 <= params["idle_s"] <= 3600:
        return "idle_s", f"idle_s {params['idle_s']} must be between 1 and 3600 seconds."
    if not 1 <= params["timeout"] <= 300:
        return "timeout", f"timeout {params['timeout']} must be between 1 and 300 seconds."
    return None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    bad = invalid(params)
    if bad:
        module.fail_json(msg=bad[1], invalid_option=bad[0], checks={}, failed_checks=[], table=[], tls={})
    doctor = Doctor(
        params["url"],
        checks=list(params["checks"] or DEFAULT_CHECKS) + (["idle"] if params["idle"] else []),
        connect_address=params["connect_address"],
        origin=params["origin"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        allow_self_signed=params["allow_self_signed"],
        upload_mb=params["upload_mb"],
        sticky_sessions=params["sticky_sessions"],
        idle_s=params["idle_s"],
        expect_origin=params["expect_origin"],
        headers=params["headers"],
        timeout=params["timeout"],
    )
    checks = doctor.run()
    failed = [name for name, entry in checks.items() if entry["result"] == "fail"]
    output = {"changed": False, "checks": checks, "failed_checks": failed, "table": table(checks), "tls": doctor.tls}
    if failed:
        module.fail_json(
            msg="; ".join(f"{name} failed: {checks[name]['evidence']}. Fix: {checks[name]['fix']}" for name in failed),
            **output,
        )
    module.exit_json(**output)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Open a WebSocket handshake and report the HTTP status the server answers."""

from __future__ import annotations

DOCUMENTATION = r"""
module: websocket_probe
short_description: Perform a WebSocket handshake and check the answer
description:
  - Sends a WebSocket upgrade request to O(url) and reads the response status line and headers, then closes the
    connection. No frame is exchanged.
  - A V(101) answer counts as an upgrade only when its C(Sec-WebSocket-Accept) header matches the key sent, so a
    proxy that answers 101 without passing the upgrade on is caught.
  - "M(ansible.builtin.uri) cannot do this, because Python's urllib always sends C(Connection: close)."
  - Reads only; never changes anything.
version_added: "1.0.0"
# No public GitHub handle to name: (!UNKNOWN) is the form validate-modules accepts for that.
author: streamlit_ops maintainers (!UNKNOWN)
options:
  url:
    description:
      - The WebSocket endpoint, for example C(https://apps.example.com/streamlitApp/_stcore/stream).
      - The schemes V(http), V(https), V(ws) and V(wss) are accepted.
    type: str
    required: true
  connect_address:
    description:
      - Connect to this address instead of the host in O(url). The C(Host) header and TLS server name still come
        from O(url), like C(curl --resolve). Use it to probe a server's own listener without public DNS.
    type: str
  origin:
    description: The C(Origin) header to send; none when omitted.
    type: str
  status_code:
    description: The statuses that count as success.
    type: list
    elements: int
    default: [101]
  timeout:
    description: Seconds allowed for the connection and for the answer.
    type: int
    default: 10
extends_documentation_fragment:
  - streamlit_ops.deploy.read_only
  - streamlit_ops.deploy.tls_client
"""

EXAMPLES = r"""
- name: Check the proxy upgrades the Streamlit WebSocket
  streamlit_ops.deploy.websocket_probe:
    url: https://apps.example.com/streamlitApp/_stcore/stream
    connect_address: 127.0.0.1
    origin: https://apps.example.com
"""

RETURN = r"""
status:
  description: The HTTP status of the answer; V(0) when none came (refused, reset or timed out).
  returned: always
  type: int
upgraded:
  description: Whether the answer was 101 with a matching C(Sec-WebSocket-Accept).
  returned: always
  type: bool
headers:
  description: The answer's headers, names in lower case.
  returned: always
  type: dict
self_signed:
  description: Whether the server's certificate was accepted only as a self-signed certificate (see O(allow_self_signed)).
  returned: always
  type: bool
"""

import ssl
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.streamlit_wire import (
    SELF_SIGNED_LEAF,
    Target,
    expected_accept,
    handshake,
)

ARGUMENT_SPEC = {
    "url": {"type": "str", "required": True},
    "connect_address": {"type": "str"},
    "origin": {"type": "str"},
    "status_code": {"type": "list", "elements": "int", "default": [101]},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "allow_self_signed": {"type": "bool", "default": False},
    "timeout": {"type": "int", "default": 10},
}
# Re-exported for the callers that check an answer's key.
__all__ = ["expected_accept", "probe"]


def probe(url, connect_address=None, origin=None, validate_certs=True, ca_path=None, timeout=10, allow_self_signed=False):
    """(status, headers, upgraded, self_signed); status 0 means no HTTP answer.

    Raises ssl.SSLCertVerificationError for an untrusted certificate, except a
    self-signed one with allow_self_signed, which is pinned and checked again,
    and the connection's OSError when nothing answers.
    """
    target = Target(url, connect_address, timeout, validate_certs, ca_path, allow_self_signed)
    facts = target.resolve_tls()
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    answer = handshake(target, path, origin)
    if answer.status == 0 and answer.exception is not None:
        raise answer.exception
    pinned = bool(validate_certs and allow_self_signed and facts.get("self_signed"))
    return answer.status, answer.headers, answer.upgraded, pinned


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    params = module.params
    error = "connection closed"
    if urlsplit(params["url"]).scheme not in ("http", "https", "ws", "wss") or not urlsplit(params["url"]).hostname:
        module.fail_json(msg=f"url: {params['url']!r} is not an http(s) or ws(s) URL with a host.")
    self_signed = False
    try:
        status, headers, upgraded, self_signed = probe(
            params["url"],
            params["connect_address"],
            params["origin"],
            params["validate_certs"],
            params["ca_path"],
            params["timeout"],
            params["allow_self_signed"],
        )
    except ssl.SSLCertVerificationError as exc:
        hint = ("set allow_self_signed to true for a self-signed certificate"
                if exc.verify_code == SELF_SIGNED_LEAF and not params["allow_self_signed"]
                else "give ca_path for a private CA, or set validate_certs to false")
        module.fail_json(
            msg=f"{params['url']}: TLS certificate not trusted ({exc.verify_message}); {hint}.",
            status=0, upgraded=False, headers={}, self_signed=False,
        )
    except OSError as exc:
        status, headers, upgraded, error = 0, {}, False, str(exc)
    result = {"changed": False, "status": status, "headers": headers, "upgraded": upgraded, "self_signed": self_signed}
    ok = status in params["status_code"] and (status != 101 or upgraded)
    if not ok:
        if status == 101:
            why = "answered 101 with a wrong Sec-WebSocket-Accept"
        elif status == 0:
            why = f"gave no HTTP answer ({error})"
        else:
            why = f"answered {status}"
        module.fail_json(msg=f"WebSocket handshake to {params['url']} {why}; expected {params['status_code']}.", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

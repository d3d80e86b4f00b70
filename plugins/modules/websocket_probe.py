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
  validate_certs:
    description: Verify the server's TLS certificate and name.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust instead of the system's.
    type: path
  allow_self_signed:
    description:
      - Accept a self-signed server certificate, and only that, as the one exception to O(validate_certs).
      - When verification fails only because the server's certificate is self-signed (it is its own issuer), the
        handshake is repeated trusting exactly that certificate, so its name and validity dates are still checked.
        RV(self_signed) then says so. A certificate from an unknown CA, a wrong name or an expired certificate still
        fails.
    type: bool
    default: false
  timeout:
    description: Seconds allowed for the connection and for the answer.
    type: int
    default: 10
extends_documentation_fragment:
  - streamlit_ops.deploy.read_only
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

import base64
import hashlib
import os
import socket
import ssl
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Status line and headers only; a handshake answer is far smaller.
MAX_HEAD = 65536
TLS_SCHEMES = ("https", "wss")


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
# OpenSSL's X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: the server sent one
# certificate that is its own issuer and no trusted CA signed it.
SELF_SIGNED_LEAF = 18


def expected_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def request_head(url: str, key: str, origin: str | None) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1")
    status_line, *header_lines = head.split("\r\n")
    fields = status_line.split(" ", 2)
    status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    headers = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def tls_context(validate_certs: bool, ca_path: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_path)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # A WebSocket upgrade is HTTP/1.1 only.
    context.set_alpn_protocols(["http/1.1"])
    return context


def pinned_context(certificate: bytes) -> ssl.SSLContext:
    """Trust exactly this (DER) certificate; its name and dates are still checked."""
    # Not create_default_context: newer Pythons add VERIFY_X509_STRICT there,
    # which rejects many self-signed certificates for missing extensions.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=certificate)
    context.set_alpn_protocols(["http/1.1"])
    return context


def peer_certificate(address: str, port: int, hostname: str, timeout: int) -> bytes:
    """The server's certificate (DER), read without trusting it."""
    with socket.create_connection((address, port), timeout=timeout) as raw_sock:
        with tls_context(False, None).wrap_socket(raw_sock, server_hostname=hostname) as sock:
            return sock.getpeercert(binary_form=True)


def handshake(url: str, address: str, origin: str | None, context: ssl.SSLContext | None, timeout: int):
    """(status, headers, upgraded) of one handshake; status 0 means no HTTP answer."""
    parts = urlsplit(url)
    port = parts.port or (443 if context else 80)
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((address, port), timeout=timeout) as raw_sock:
        sock = context.wrap_socket(raw_sock, server_hostname=parts.hostname) if context else raw_sock
        sock.sendall(request_head(url, key, origin))
        data = b""
        while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data:
        return 0, {}, False
    status, headers = parse_head(data)
    upgraded = status == 101 and headers.get("sec-websocket-accept") == expected_accept(key)
    return status, headers, upgraded


def probe(url, connect_address=None, origin=None, validate_certs=True, ca_path=None, timeout=10, allow_self_signed=False):
    """(status, headers, upgraded, self_signed); status 0 means no HTTP answer.

    Raises ssl.SSLCertVerificationError for an untrusted certificate, except a
    self-signed one with allow_self_signed, which is pinned and checked again.
    """
    parts = urlsplit(url)
    tls = parts.scheme in TLS_SCHEMES
    address = connect_address or parts.hostname
    try:
        return (*handshake(url, address, origin, tls_context(validate_certs, ca_path) if tls else None, timeout), False)
    except ssl.SSLCertVerificationError as exc:
        if not (allow_self_signed and exc.verify_code == SELF_SIGNED_LEAF):
            raise
    certificate = peer_certificate(address, parts.port or 443, parts.hostname, timeout)
    return (*handshake(url, address, origin, pinned_context(certificate), timeout), True)


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
    except (OSError, ssl.SSLError) as exc:
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

"""The proxy's origin guard on WebSocket upgrades (nginx_proxy, issue 11).

same-origin is the default (the app "main"): an upgrade whose Origin names
the Host it was sent to, or a public origin, gets 101 from Streamlit; a
foreign Origin gets 403 from Nginx; no Origin passes. strict (the app
"strict") is unchanged. open lets every origin through: the control that
proves the 403 is the guard's. Each handshake is checked down to
Sec-WebSocket-Accept, so a 101 is Streamlit's own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl

import pytest

from hosts import playbook

FOREIGN = "https://evil.example.test"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def expected_accept(key: str) -> str:
    """RFC 6455's Sec-WebSocket-Accept for a key."""
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def upgrade(master_address: str, server_name: str, cafile: str, path: str, host: str, origin: str | None) -> int:
    """Nginx's answer to a WebSocket upgrade of path sent with this Host and Origin; 101 only with a correct accept."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((master_address, 443), timeout=15) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as conn:
            lines = [f"GET {path}_stcore/stream HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
                     f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13"]
            lines += [f"Origin: {origin}"] if origin is not None else []
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if status == 101:
        accept = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-accept:")]
        assert accept == [expected_accept(KEY).encode()], head
    return status


@pytest.fixture(scope="module")
def paths(apps) -> dict:
    return {app["name"]: app.get("path") or f"/{app['name']}/" for app in apps}


@pytest.fixture(scope="module")
def ask(master_address, server_name, cafile):
    def ask(path, origin, host=None):
        return upgrade(master_address, server_name, cafile, path, host or server_name, origin)
    return ask


def test_same_origin_is_the_default(ask, paths, server_name):
    main = paths["main"]
    assert ask(main, f"https://{server_name}") == 101
    # Case and the default port do not make an origin foreign.
    assert ask(main, f"https://{server_name.upper()}", host=f"{server_name}:443") == 101
    assert ask(main, FOREIGN) == 403
    # No Origin: a client that is not a browser passes.
    assert ask(main, None) == 101
    # Look-alikes are foreign: a longer name, another port of the same name, "null".
    assert ask(main, f"https://{server_name}.evil.example.test") == 403
    assert ask(main, f"https://{server_name}:8443") == 403
    assert ask(main, "null") == 403


def test_plain_requests_ignore_the_origin(app_url, cafile):
    import requests

    response = requests.get(app_url, headers={"Origin": FOREIGN}, verify=cafile, timeout=15)
    assert response.status_code == 200


def test_outer_proxy_rewriting_host(ask, paths, server_name, master_address):
    """An outer proxy that sends Host: <internal name> while the browser's
    Origin is the public name: the public origin (the server name) is
    allowed, so the seed's failure does not come back; a foreign Origin is
    still refused on the same Host (the control)."""
    for internal in (master_address, "xb-master.internal"):
        assert ask(paths["main"], f"https://{server_name}", host=internal) == 101, internal
        assert ask(paths["main"], FOREIGN, host=internal) == 403, internal


def test_strict_is_unchanged(ask, paths, server_name):
    strict = paths["strict"]
    assert ask(strict, f"https://{server_name}") == 101
    assert ask(strict, FOREIGN) == 403
    assert ask(strict, None) == 403


def test_open_lets_every_origin_through(ask, paths, apps, inventory, server_name):
    """origin_policy: open for main: the foreign Origin gets 101 (Streamlit
    itself keeps server.enableCORS=false). The run after it converges back."""
    opened = [dict(app, origin_policy="open") if app["name"] == "main" else app for app in apps]
    try:
        rc, out, dummy = playbook("site.yml", inventory, "-e", json.dumps({"streamlit_ops_apps": opened}))
        assert rc == 0, out[-3000:]
        assert ask(paths["main"], FOREIGN) == 101
        assert ask(paths["strict"], FOREIGN) == 403
    finally:
        rc, out, dummy = playbook("site.yml", inventory)
        assert rc == 0, out[-3000:]
    assert ask(paths["main"], FOREIGN) == 403

"""Identity headers a client forges never reach the app (nginx_proxy, issue 11).

With server.trustedUserHeaders, Streamlit puts the named request headers into
st.user on WebSocket connect, so a client that sends one forges its identity.
The proxy clears each such header in the app's location. The demo app does
not show headers, so the test watches the wire instead: a packet capture on
both children (a raw socket, Python only) looks for the header's value in the
traffic from the master. The control: another header sent alongside it, which
the app does not trust, is seen there, so the capture does see headers.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
import requests


OTHER = "X-Streamlit-Ops-Other"

# Every frame on every interface of the child (AF_PACKET, ETH_P_ALL) for a
# bounded time; prints each marker that appeared in any frame.
SNIFFER = """
import socket, sys, time
markers = [m.encode() for m in sys.argv[2:]]
seen = set()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    seen.update(m for m in markers if m in frame)
print(" ".join(sorted(m.decode() for m in seen)), flush=True)
"""


@pytest.fixture(scope="module")
def trusted(apps) -> str:
    """The header main trusts, as the scenario configures it (molecule/ha/molecule.yml)."""
    main = next(app for app in apps if app["name"] == "main")
    headers = list(json.loads((main.get("options") or {}).get("server.trustedUserHeaders") or "{}"))
    assert headers, "main trusts no header (server.trustedUserHeaders): nothing to forge"
    return headers[0]


def capture(children: list[str], markers: list[str], traffic, seconds: float = 12) -> set[str]:
    """The markers seen on any child while traffic() runs."""
    sniffers = [subprocess.Popen(["docker", "exec", child, "python3", "-c", SNIFFER, str(seconds), *markers],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for child in children]
    for sniffer in sniffers:
        assert sniffer.stdout.readline().strip() == "ready", sniffer.stderr.read()
    traffic()
    seen = set()
    for sniffer in sniffers:
        out, err = sniffer.communicate(timeout=seconds + 30)
        assert sniffer.returncode == 0, err
        seen.update(out.split())
    return seen


def test_forged_identity_header_is_cleared(trusted, app_url, cafile, children):
    forged, other = f"forged-{uuid.uuid4().hex}", f"kept-{uuid.uuid4().hex}"

    def traffic():
        # Fresh clients (no route cookie), so both children get some; page
        # loads and the WebSocket, where Streamlit reads st.user.
        for dummy in range(6):
            response = requests.get(app_url, headers={trusted: forged, OTHER: other}, verify=cafile, timeout=15)
            assert response.status_code == 200
        time.sleep(0.5)

    seen = capture(children, [forged, other], traffic)
    # The control: a header the app does not trust crosses the wire, so the
    # capture sees request headers at all.
    assert other in seen, seen
    assert forged not in seen, f"{trusted} reached a child: {seen}"


def test_forged_header_is_cleared_on_the_websocket(trusted, paths, children, master_address, server_name, cafile):
    """The same on the upgrade itself, sent with raw headers."""
    import socket
    import ssl

    forged, other = f"forged-{uuid.uuid4().hex}", f"kept-{uuid.uuid4().hex}"
    path = paths["main"]

    def traffic():
        context = ssl.create_default_context(cafile=cafile)
        for dummy in range(4):
            with socket.create_connection((master_address, 443), timeout=15) as raw:
                with context.wrap_socket(raw, server_hostname=server_name) as conn:
                    lines = [f"GET {path}_stcore/stream HTTP/1.1", f"Host: {server_name}", "Upgrade: websocket",
                             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                             f"Origin: https://{server_name}", f"{trusted}: {forged}", f"{OTHER}: {other}"]
                    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
                    assert conn.recv(4096).startswith(b"HTTP/1.1 101"), "no upgrade"
        time.sleep(0.5)

    seen = capture(children, [forged, other], traffic)
    assert other in seen, seen
    assert forged not in seen, f"{trusted} reached a child on the WebSocket: {seen}"

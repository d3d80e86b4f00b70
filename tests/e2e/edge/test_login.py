"""Streamlit's own login (st.login, OIDC) behind the edge, under a sub-path,
on two replicas (issue 13). The collection wrote the app's [auth] table: the
redirect URI from streamlit_ops_public_url, the path and oauth2callback, the
client from the inventory, and the cookie secret both replicas share. The
provider is oidc-provider-mock, run here on the controller where the browser
and the children's containers both reach it.

The round trip ends logged in; the session then moves to the other replica
(the one that served it stops) and is still logged in there. Controls: a
fresh browser is not logged in, and a tampered identity cookie is refused.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from edge_client import APP_TEXT, browser, edge_address, new_page
from hosts import inventory_hosts

LOG = "/var/log/nginx/streamlit_ops_deploy.access.log"
CONTAINER = "streamlit-login"


@pytest.fixture(scope="module")
def login_app(inventory):
    return next(app for app in inventory_hosts(inventory)["apps"] if app["name"] == "login")


@pytest.fixture(scope="module")
def provider(login_app):
    """oidc-provider-mock where the app's server_metadata_url points, for this module's tests."""
    metadata = login_app["login"]["server_metadata_url"]
    parts = urlsplit(metadata)
    claims = json.dumps({"sub": "alice", "email": "alice@example.test", "name": "Alice"})
    process = subprocess.Popen([str(Path(sys.executable).parent / "oidc-provider-mock"), "--host", parts.hostname,
                                "--port", str(parts.port), "--user-claims", claims],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(metadata, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.poll() is not None else "no answer"
            time.sleep(0.5)
        yield f"{parts.scheme}://{parts.netloc}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def serving_child(master: str, children: list[str]) -> str:
    """The child whose login replica took the last WebSocket, from the master's access log."""
    log = subprocess.run(["docker", "exec", master, "tail", "-n", "200", LOG], capture_output=True, text=True, timeout=60, check=True).stdout
    served = re.findall(r'"GET /login/_stcore/stream HTTP/1.1" 101 .*?upstream=(\S+?):\d+ ', log)
    assert served, "the master logged no WebSocket of the login app"
    for child in children:
        address = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", child],
                                 capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        if address == served[-1]:
            return child
    raise AssertionError(f"no child has the address {served[-1]}")


def wait_healthy(child: str, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status = subprocess.run(["docker", "exec", child, "docker", "inspect", "-f", "{{.State.Health.Status}}", CONTAINER],
                                capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        if status == "healthy":
            return
        time.sleep(2)
    raise AssertionError(f"{CONTAINER} on {child} not healthy after {limit_s} s")


def test_login_round_trip_survives_a_move_to_the_other_replica(provider, master, children, artifacts):
    app = f"https://{edge_address()}/login/"
    with browser() as chromium:
        page = new_page(chromium)
        page.goto(app)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{provider}/oauth2/authorize**")
        # The redirect URI the collection derived: the public URL, the app's path, oauth2callback.
        assert parse_qs(urlsplit(page.url).query)["redirect_uri"] == [f"{app}oauth2callback"], page.url
        page.fill("input[name=sub]", "alice")
        page.get_by_role("button", name="Authorize").click()
        page.wait_for_url(f"{app}**")
        page.get_by_text("Logged in as alice@example.test").wait_for()
        page.screenshot(path=str(artifacts / "login-logged-in.png"), full_page=True)
        first = serving_child(master, children)

        subprocess.run(["docker", "exec", first, "docker", "stop", "-t", "5", CONTAINER], capture_output=True, timeout=60, check=True)
        try:
            page.reload()
            page.get_by_text(APP_TEXT).first.wait_for()
            page.get_by_text("Logged in as alice@example.test").wait_for()
            page.screenshot(path=str(artifacts / "login-other-replica.png"), full_page=True)
            # Nginx logs a WebSocket when it closes: close the tab, then wait (bounded) for its line.
            page.close()
            for dummy in range(30):
                if serving_child(master, children) != first:
                    break
                time.sleep(0.5)
            assert serving_child(master, children) != first
        finally:
            subprocess.run(["docker", "exec", first, "docker", "start", CONTAINER], capture_output=True, timeout=60, check=True)
            wait_healthy(first)

        # Controls: a fresh browser is not logged in; the identity cookie with its signature broken is refused.
        fresh = new_page(chromium)
        fresh.goto(app)
        fresh.get_by_role("button", name="Log in").wait_for()
        tampered = new_page(chromium)
        cookies = [dict(c, value=c["value"][:-4] + ("AAAA" if not c["value"].endswith("AAAA") else "BBBB"))
                   if c["name"] == "_streamlit_user" else c for c in page.context.cookies()]
        assert any(c["name"] == "_streamlit_user" for c in cookies), [c["name"] for c in cookies]
        tampered.context.add_cookies(cookies)
        tampered.goto(app)
        tampered.get_by_role("button", name="Log in").wait_for()

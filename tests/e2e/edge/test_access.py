"""Access control at the proxy (issue 13): basic auth and forward auth cover
the page, the WebSocket and uploads alike, and an identity header a client
sends is never the one the app sees.

The apps (molecule/default/molecule.yml): basic (alice and bob, hashed),
forward (auth_request to the edge's test endpoint, tests' edge_auth.py, which
signs in whoever has the cookie edge_test_user). Each check has its control:
the open demo app answers where the protected ones refuse; the forged
identity header reaches the app when the master is not in between.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import uuid

import pytest
import requests

from checks import APP_TEXT
from edge_client import app_report, browser, edge_address, master_base, new_page, reported, ws_status


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def upload_status(app_url: str, headers: dict | None = None) -> int:
    """A PUT to the app's upload endpoint, as st.file_uploader sends it (without a session)."""
    files = {"file": ("probe.bin", b"x" * 1024, "application/octet-stream")}
    answer = requests.put(f"{app_url}_stcore/upload_file/no-session/{uuid.uuid4()}", files=files, headers=headers or {},
                          timeout=15, allow_redirects=False)
    return answer.status_code


@pytest.fixture(scope="module")
def base():
    return master_base()


@pytest.fixture(scope="module")
def signin():
    """The sign-in page of the edge's test endpoint (the forward app's signin_url)."""
    return f"http://{edge_address()}:9180/signin"


def test_basic_auth_refuses_the_page_the_websocket_and_uploads_alike(base):
    app = f"{base}/basic/"
    page = requests.get(app, timeout=15)
    assert page.status_code == 401, page.status_code
    assert page.headers.get("WWW-Authenticate") == 'Basic realm="Demo"'
    assert ws_status(app) == 401
    assert upload_status(app) == 401
    # Wrong credentials, a known user's wrong password included.
    for headers in (basic("alice", "wrong"), basic("bob", "correct horse"), basic("mallory", "battery staple")):
        assert requests.get(app, headers=headers, timeout=15).status_code == 401
        assert ws_status(app, headers) == 401
    # Either user, each with their own password (SHA-512 crypt and APR1 hashes).
    for headers in (basic("alice", "correct horse"), basic("bob", "battery staple")):
        assert requests.get(app, headers=headers, timeout=15).status_code == 200
        assert ws_status(app, headers) == 101
    # Control: the same requests to the open app get through.
    assert requests.get(f"{base}/streamlitApp/", timeout=15).status_code == 200
    assert ws_status(f"{base}/streamlitApp/") == 101
    assert upload_status(f"{base}/streamlitApp/") != 401


def test_basic_auth_app_works_in_a_browser_with_the_right_credentials(base, artifacts):
    with browser() as chromium:
        page = new_page(chromium, http_credentials={"username": "alice", "password": "correct horse"})
        text = app_report(page, f"{base}/basic/", artifacts / "access-basic.png")
        assert "Result: 12" in text
        # A rerun over the WebSocket: the slider's new value comes back computed.
        slider = page.get_by_role("slider", name="Multiplier")
        slider.focus()
        slider.press("ArrowRight")
        page.get_by_text("Result: 18", exact=True).wait_for()
        # Control: with a wrong password the browser gets no further than the 401.
        wrong = new_page(chromium, http_credentials={"username": "alice", "password": "wrong"})
        answer = wrong.goto(f"{base}/basic/")
        assert answer.status == 401 and APP_TEXT not in wrong.inner_text("body")


def test_the_password_file_is_readable_by_nginx_only(master):
    dump = subprocess.run(["docker", "exec", master, "nginx", "-T"], capture_output=True, text=True, timeout=60, check=True).stdout
    files = set(re.findall(r"auth_basic_user_file\s+(\S+);", dump))
    assert len(files) == 1, files
    stat = subprocess.run(["docker", "exec", master, "stat", "-c", "%a %U %G", files.pop()],
                          capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert stat == ["640", "root", "www-data"], stat


def test_forward_auth_sends_an_unauthenticated_browser_to_sign_in(base, signin, artifacts):
    app = f"{base}/forward/"
    answer = requests.get(app, timeout=15, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{signin}?rd={app}", answer.headers["Location"]
    assert ws_status(app) == 302
    assert upload_status(app) == 302
    with browser() as chromium:
        page = new_page(chromium)
        page.goto(app)
        page.get_by_text(f"Sign in, then back to {app}").wait_for()
        page.screenshot(path=str(artifacts / "access-forward-signin.png"))
        assert page.url.startswith(f"{signin}?rd=")


def user_seen(page, url: str, screenshot=None) -> dict:
    return json.loads(reported(app_report(page, url, screenshot), "User") or "{}")


def test_forward_auth_passes_the_endpoints_identity_to_st_user(base, artifacts):
    with browser() as chromium:
        page = new_page(chromium)
        page.context.add_cookies([{"name": "edge_test_user", "value": "alice", "url": base}])
        seen = user_seen(page, f"{base}/forward/", artifacts / "access-forward-user.png")
    assert seen == {"email": "alice@example.test", "groups": "staff", "user": "alice"}, seen


FORGED = {"X-Auth-Request-User": "admin", "X-Auth-Request-Email": "admin@example.test", "X-Auth-Request-Groups": "admins"}


def test_a_client_that_sends_the_identity_headers_does_not_become_that_user(base, signin, artifacts, children):
    with browser() as chromium:
        signed_in = new_page(chromium, extra_http_headers=FORGED)
        signed_in.context.add_cookies([{"name": "edge_test_user", "value": "alice", "url": base}])
        seen = user_seen(signed_in, f"{base}/forward/", artifacts / "access-forward-forged.png")
        assert seen == {"email": "alice@example.test", "groups": "staff", "user": "alice"}, seen
        # Without a session of the endpoint's, the forged headers alone get the sign-in redirect.
        anonymous = new_page(chromium, extra_http_headers=FORGED)
        anonymous.goto(f"{base}/forward/")
        assert anonymous.url.startswith(f"{signin}?rd=")
        # Control: straight to the child, without the master, the same headers do make the browser admin:
        # the browser sends them (on the WebSocket too) and the app trusts them.
        child = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", children[0]],
                               capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        direct = new_page(chromium, extra_http_headers=FORGED)
        seen = user_seen(direct, f"http://{child}:8503/forward/", artifacts / "access-forward-forged-direct.png")
        assert seen.get("user") == "admin", seen

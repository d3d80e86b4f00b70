"""A deployed Streamlit app through the master's Nginx: page, WebSocket, real browser.

The last test is the negative control: the same checks against a location that
lacks the Upgrade/Connection headers must fail the way the original bug did
(page served, WebSocket refused, app stuck on its grey skeleton).
"""

import os

import pytest

from checks import browser_session, http_get, origin_of, websocket_handshake

pytestmark = pytest.mark.skipif(
    not os.environ.get("STREAMLIT_OPS_APP_URL"),
    reason="black-box e2e tests need a deployed app: set STREAMLIT_OPS_APP_URL "
    "(and STREAMLIT_OPS_BROKEN_URL, STREAMLIT_OPS_ARTIFACTS); the CI harness does",
)


def test_page_is_served(app_url):
    status, body, headers = http_get(app_url)
    assert status == 200, f"GET {app_url} -> {status}"
    assert headers.get("content-type", "").startswith("text/html")
    assert "<title>Streamlit</title>" in body, "not Streamlit's index page"


def test_health_endpoint_says_ok(app_url):
    status, body, dummy = http_get(app_url + "_stcore/health")
    assert (status, body.strip()) == (200, "ok")


def test_websocket_upgrades(app_url):
    status = websocket_handshake(app_url, origin=origin_of(app_url))
    assert status == 101, f"WebSocket upgrade of {app_url}_stcore/stream -> {status}"


def test_browser_runs_the_app(app_url, artifacts):
    result = browser_session(app_url, screenshot=str(artifacts / "app.png"), timeout_s=30)
    seen = f"{result.error}; page: {result.text!r}; console: {result.console_errors[:5]}"
    assert result.loaded, f"app text never rendered: {seen}"
    assert result.reacted, f"slider did not re-run the script: {seen}"
    assert any(u.endswith("/_stcore/stream") for u in result.ws_urls), result.ws_urls


def test_negative_control_without_upgrade_headers(broken_url, artifacts):
    status, dummy, dummy2 = http_get(broken_url)
    assert status == 200, "the broken location should still serve the page, as in the bug"
    ws_status = websocket_handshake(broken_url, origin=origin_of(broken_url))
    assert ws_status != 101, "handshake check cannot tell a broken proxy from a good one"
    result = browser_session(broken_url, screenshot=str(artifacts / "broken.png"), timeout_s=15)
    assert result.screenshot, f"no screenshot of the broken page: {result.error}"
    assert not result.loaded, "browser check cannot tell a broken proxy from a good one"

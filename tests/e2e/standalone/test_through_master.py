"""The app through the master by its server name, and only by that name.

nginx_proxy runs with nginx_proxy_default_server false because the user's shop
is port 80's default server. So the name routes to the app, and any other
name on port 80 (here the master's bare address) still gets the shop: the
controls show the checks below tell the two apart.
"""

from urllib.parse import urlsplit

import pytest

from browser import Tab, chromium
from checks import http_get, origin_of, websocket_handshake


@pytest.fixture(scope="module")
def browser(server_name, master_address):
    with chromium(server_name, master_address) as browser:
        yield browser


@pytest.fixture(scope="session")
def other_name_url(app_url, master_address) -> str:
    """The app's URL on port 80 of the master, with a Host no server claims."""
    return f"http://{master_address}{urlsplit(app_url).path}"


def test_browser_runs_the_app_by_its_server_name(browser, app_url, artifacts):
    tab = Tab(browser)
    try:
        assert tab.open(app_url), tab.seen()
        assert tab.move_slider(), tab.seen()
        tab.screenshot(str(artifacts / "standalone-app.png"))
        stream = app_url + "_stcore/stream"
        assert [url for url in tab.websockets if url.replace("ws://", "http://", 1) == stream], tab.websockets
    finally:
        tab.close()


def test_app_sees_the_browser_behind_the_proxy(browser, app_url, own_address, master_address):
    """streamlit_app_forwarded_allow_ips names the master, so the app trusts
    its X-Forwarded-For: the page shows this machine, not the master. The
    same text check for the master's address is the control: the page shows
    one address, and the check tells which."""
    tab = Tab(browser)
    try:
        assert tab.open(app_url) and tab.shows("Client address: "), tab.seen()
        lines = tab.text().splitlines()
        # Whole lines: 10.218.0.1 is a prefix of 10.218.0.10.
        assert f"Client address: {own_address}" in lines, tab.seen()
        assert f"Client address: {master_address}" not in lines, tab.seen()
    finally:
        tab.close()


def test_control_browser_by_another_name_gets_the_users_default_site(browser, other_name_url, master_address,
                                                                     artifacts):
    """The same browser check by the master's bare address: the shop has no
    app path (404), and its front page is what that name gets."""
    tab = Tab(browser, timeout_s=10)
    try:
        assert not tab.open(other_name_url), "the browser check passes on a server without the app"
        assert "404 Not Found" in tab.text(), tab.seen()
        assert tab.open(f"http://{master_address}/", text="shop front page"), tab.seen()
        tab.screenshot(str(artifacts / "standalone-other-name.png"))
    finally:
        tab.close()


def test_websocket_upgrades_through_the_master(app_url):
    status = websocket_handshake(app_url, origin=origin_of(app_url))
    assert status == 101, f"WebSocket upgrade of {app_url}_stcore/stream -> {status}"


def test_control_websocket_by_another_name_is_the_default_sites_404(other_name_url):
    assert websocket_handshake(other_name_url, origin=origin_of(other_name_url)) == 404


def test_control_page_by_another_name_is_the_default_sites_404(other_name_url):
    status, body = http_get(other_name_url)[:2]
    assert status == 404 and "<title>Streamlit</title>" not in body, (status, body[:200])

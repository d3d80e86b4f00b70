"""Plain HTTP and WebSocket checks through the master: redirects, compression,
strict origins, forwarded client address and scheme, and each app's own env.
Each check is paired with a control that shows it can fail."""

import gzip
import re
from urllib.parse import urlsplit

import pytest
import requests

from stclient import StreamlitClient, fresh_session

FOREIGN_ORIGIN = "https://evil.example"


@pytest.fixture(scope="module")
def http(cafile):
    session = requests.Session()
    session.trust_env = False
    session.verify = cafile
    yield session
    session.close()


def get(http, url, **headers):
    return http.get(url, headers=headers, allow_redirects=False, timeout=20)


def relative(location):
    """Nginx's and Streamlit's redirects must survive port mapping and NAT: no scheme, no host."""
    return location is not None and location.startswith("/") and not location.startswith("//")


def http_of(url):
    parts = urlsplit(url)
    return f"http://{parts.hostname}{parts.path}"


# -- redirects ---------------------------------------------------------------

def test_http_redirects_to_https(http, app_url):
    resp = get(http, http_of(app_url) + "second")
    assert resp.status_code in (301, 308), (resp.status_code, resp.headers)
    assert resp.headers.get("location") == app_url + "second", resp.headers.get("location")


def test_control_https_is_not_redirected(http, app_url):
    resp = get(http, app_url)
    assert resp.status_code == 200 and "location" not in resp.headers


def test_path_without_slash_redirects_relatively(http, app_url, strict_url):
    for url in (app_url, strict_url):
        resp = get(http, url.rstrip("/"))
        assert resp.status_code in (301, 302, 307, 308), (url, resp.status_code)
        location = resp.headers.get("location")
        assert location == urlsplit(url).path and relative(location), (url, location)


def test_streamlit_redirect_location_is_not_absolute_http(http, app_url):
    """Streamlit redirects /app/second/ to /app/second: the Location that reaches the
    browser must keep the https scheme, so never http://, and stays relative."""
    resp = get(http, app_url + "second/")
    assert resp.status_code in (301, 302, 307, 308), resp.status_code
    location = resp.headers.get("location")
    assert location is not None and not location.startswith("http://"), location
    assert relative(location) and location.rstrip("/") == urlsplit(app_url).path + "second", location


def test_control_relative_check_rejects_an_absolute_location(http, app_url):
    """The HTTP listener's redirect must name the https origin, so it is absolute:
    the relative() check sees the difference."""
    location = get(http, http_of(app_url) + "second/").headers.get("location")
    assert location and not relative(location), location


# -- compression -----------------------------------------------------------------

def _bundle_path(http, app_url):
    index = get(http, app_url).text
    match = re.search(r'src="\./(static/js/index\.[^"]+\.js)"', index)
    assert match, "no main bundle in Streamlit's index page"
    return match.group(1)


def test_bundle_is_served_gzipped(http, app_url):
    bundle = app_url + _bundle_path(http, app_url)
    plain = http.get(bundle, headers={"Accept-Encoding": "identity"}, timeout=30)
    raw = http.get(bundle, headers={"Accept-Encoding": "gzip"}, timeout=30, stream=True)
    body = raw.raw.read(decode_content=False)
    assert raw.headers.get("content-encoding") == "gzip", raw.headers
    assert gzip.decompress(body) == plain.content
    ratio = len(body) / len(plain.content)
    print(f"main bundle {len(plain.content)} B, gzipped {len(body)} B, ratio {ratio:.2f}")
    assert ratio < 0.5, ratio
    assert plain.headers.get("content-encoding") in (None, "identity"), plain.headers


def test_control_child_serves_the_bundle_uncompressed(http, app_url, apps, child_addresses):
    """Streamlit leaves its static files uncompressed: the gzip seen above is the proxy's."""
    main = next(a for a in apps if a["name"] == "main")
    direct = f"http://{child_addresses[0]}:{main['port']}{urlsplit(app_url).path}"
    with requests.Session() as plain:
        plain.trust_env = False  # straight to the child, whatever proxy the environment names
        resp = plain.get(direct + _bundle_path(http, app_url), headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert resp.status_code == 200
    assert "content-encoding" not in resp.headers, resp.headers


# -- strict origins ----------------------------------------------------------

def _handshake(url, cafile, origin):
    client = StreamlitClient(url, cafile=cafile, origin=origin)
    try:
        client.load()
        client.connect()
        return client.result.websocket
    finally:
        client.close()


def test_strict_app_refuses_a_foreign_origin(strict_url, cafile):
    assert _handshake(strict_url, cafile, FOREIGN_ORIGIN) == 403


def test_strict_app_upgrades_its_public_origin(strict_url, cafile):
    parts = urlsplit(strict_url)
    assert _handshake(strict_url, cafile, f"https://{parts.netloc}") == 101


def test_default_app_refuses_a_foreign_origin_too(app_url, cafile):
    """Since 1.1.0 the default policy (same-origin) refuses it as well; the
    public-origin handshake above is the control that the client upgrades,
    and test_origin_guard.py re-converges with open to show 101 there."""
    assert _handshake(app_url, cafile, FOREIGN_ORIGIN) == 403


# -- what the app sees -------------------------------------------------------

def test_apps_see_their_own_env(app_url, strict_url, cafile):
    strict = fresh_session(strict_url, cafile=cafile)
    main = fresh_session(app_url, cafile=cafile)
    assert "Greeting: hello from the strict app" in strict.texts, strict
    # Control: the other app, same image, answers with its own env.
    assert "Greeting: hello from the main app" in main.texts, main
    assert "Greeting: hello from the strict app" not in main.texts


def test_app_sees_the_real_client_address_and_https(app_url, cafile, own_address):
    seen = fresh_session(app_url, cafile=cafile)
    assert f"Client address: {own_address}" in seen.texts, (seen, seen.texts)
    assert "Client scheme: wss" in seen.texts, seen.texts


def test_control_forwarded_headers_are_ignored_from_others(app_url, apps, child_addresses, own_address):
    """Straight to a child, with forged X-Forwarded-For/-Proto: the child trusts only
    the master, so the app reports this machine and plain ws. The check above would
    fail against an app that does not trust its proxy in the same way."""
    main = next(a for a in apps if a["name"] == "main")
    direct = f"http://{child_addresses[0]}:{main['port']}{urlsplit(app_url).path}"
    seen = fresh_session(direct, headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert seen.websocket == 101, seen
    assert f"Client address: {own_address}" in seen.texts, seen.texts
    assert "Client scheme: ws" in seen.texts, seen.texts

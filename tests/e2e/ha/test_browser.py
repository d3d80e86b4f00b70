"""A real browser through the master over https: multipage under a sub-path,
40 MB uploads in fresh sessions, and the strict app with its own env.
Each check is paired with a control that shows it can fail."""

import pytest

from browser import SECOND_PAGE_TEXT, Tab, chromium

UPLOAD_MB = 40


@pytest.fixture(scope="module")
def browser(server_name, master_address):
    with chromium(server_name, master_address) as browser:
        yield browser


@pytest.fixture
def tab(browser):
    tab = Tab(browser)
    yield tab
    tab.close()


def test_page_link_opens_the_second_page(tab, app_url, artifacts):
    assert tab.open(app_url), tab.seen()
    tab.page.get_by_role("link", name="second").first.click()
    assert tab.shows(SECOND_PAGE_TEXT), tab.seen()
    assert tab.page.url.rstrip("/") == app_url + "second", tab.page.url
    tab.screenshot(str(artifacts / "ha-second-by-link.png"))


def test_deep_link_loads_the_second_page(tab, app_url, artifacts):
    assert tab.open(app_url + "second", text=SECOND_PAGE_TEXT), tab.seen()
    assert len(tab.websockets) == 1, tab.websockets
    tab.screenshot(str(artifacts / "ha-second-deep-link.png"))


def test_control_unknown_page_is_not_the_second_page(tab, app_url):
    """Streamlit answers any page name with its index: the check must look at
    the rendered page, not the status, to tell /second from a page that does not exist."""
    assert tab.open(app_url + "no-such-page"), tab.seen()  # the main page renders instead
    assert not tab.shows(SECOND_PAGE_TEXT, timeout_s=3), "the second-page check passes for any page"


def test_uploads_of_40_mb_in_fresh_sessions(browser, app_url, artifacts, tmp_path):
    payload = tmp_path / "payload-40mb.bin"
    payload.write_bytes(bytes(UPLOAD_MB * 1024 * 1024))
    expected = f"Uploaded {payload.name}: {UPLOAD_MB * 1024 * 1024} bytes"
    for attempt in range(3):
        tab = Tab(browser, timeout_s=60)
        try:
            assert tab.open(app_url), f"session {attempt}: {tab.seen()}"
            assert tab.upload(str(payload)), f"session {attempt}: {tab.seen()}"
            assert tab.shows(expected), f"session {attempt}: {tab.seen()}"
            if attempt == 0:
                tab.screenshot(str(artifacts / "ha-app-after-upload.png"))
        finally:
            tab.close()


def test_control_upload_over_the_apps_limit_is_not_reported(tab, strict_url, tmp_path):
    """The strict app allows 30 MB: the same 40 MB upload never reaches its script."""
    payload = tmp_path / "payload-40mb.bin"
    payload.write_bytes(bytes(UPLOAD_MB * 1024 * 1024))
    assert tab.open(strict_url), tab.seen()
    tab.upload(str(payload))
    assert not tab.shows("Uploaded payload-40mb.bin", timeout_s=10), "the upload check passes for a refused upload"


def test_second_app_shows_its_own_env(tab, strict_url, app_url, artifacts):
    assert tab.open(strict_url), tab.seen()
    assert tab.shows("Greeting: hello from the strict app"), tab.seen()
    assert tab.move_slider(), tab.seen()
    tab.screenshot(str(artifacts / "ha-strict.png"))
    # Control: the main app is another container with another env.
    assert tab.open(app_url), tab.seen()
    assert tab.shows("Greeting: hello from the main app"), tab.seen()
    assert not tab.shows("hello from the strict app", timeout_s=2), tab.seen()

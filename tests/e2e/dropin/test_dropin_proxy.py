"""The app through the user's own server block, which includes the snippet:
a real browser, the user's server-level header, the user's own location."""

from checks import browser_session, http_get
from dropin_hosts import HEADER, USER_PAGE


def test_browser_loads_the_app_through_the_users_server(app_url, artifacts):
    # Control: test_dropin_removal runs the same session against the same URL
    # after the removal and requires it to fail.
    result = browser_session(app_url, screenshot=str(artifacts / "dropin-app.png"), timeout_s=45)
    assert result.loaded and result.reacted, result
    assert any(url.startswith(app_url.replace("http", "ws", 1)) for url in result.ws_urls), result.ws_urls


def test_the_users_server_level_header_reaches_app_responses(app_url, direct_app_url):
    for url in (app_url, app_url + "_stcore/health"):
        status, dummy, headers = http_get(url)
        assert status == 200, (url, status)
        assert headers.get(HEADER) == "existing.test", (url, headers)
    # Control: the app itself sends no such header, so it can only come from
    # the user's server, and the check sees its absence.
    status, dummy, headers = http_get(direct_app_url)
    assert status == 200, status
    assert HEADER not in headers, headers


def test_the_users_own_location_still_answers(user_site_url, app_url):
    status, body, headers = http_get(user_site_url)
    assert (status, body, headers.get(HEADER)) == (200, USER_PAGE, "existing.test")
    # Control: the app's location answers with something else.
    status, body, dummy = http_get(app_url)
    assert status == 200 and body != USER_PAGE

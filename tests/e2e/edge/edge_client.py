"""What the access, edge and login tests share: where the master, the edge and
the apps are (from the scenario's verify), the app's own report of who and
where its client is, and a WebSocket handshake with headers of the test's."""

from __future__ import annotations

import os
import re
import ssl
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from checks import APP_TEXT, CHROMIUM, CHROMIUM_ARGS, NETWORK_CHANGED, origin_of, websocket_handshake
from settings import scenario_env

# The demo app's last lines (tests/images/app/app.py).
REPORT_TEXT = "User:"


def master_base() -> str:
    url = os.environ.get("STREAMLIT_OPS_APP_URL", "").strip()
    if not url:
        pytest.skip("STREAMLIT_OPS_APP_URL is not set (the scenario's Molecule verify sets it)")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def edge_address() -> str:
    return scenario_env("STREAMLIT_OPS_EDGE_ADDRESS", "the TLS load balancer in front of the master")


def edge_untrusted() -> str:
    return scenario_env("STREAMLIT_OPS_EDGE_UNTRUSTED", "the edge's address the master does not trust")


def ws_status(app_url: str, headers: dict | None = None) -> int:
    """The answer to the WebSocket upgrade of app_url's _stcore/stream, as a browser sends it: 101, or the
    refusal's status (a redirect is not followed)."""
    return websocket_handshake(app_url, origin=origin_of(app_url), timeout=15, headers=headers, context=_insecure())


def _insecure():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(chromium, timeout_s: float = 45, **context_options):
    context = chromium.new_context(ignore_https_errors=True, viewport={"width": 1100, "height": 1200}, **context_options)
    page = context.new_page()
    page.set_default_timeout(int(timeout_s * 1000))
    return page


def app_report(page, url: str, screenshot=None) -> str:
    """Load url and return the app's text once its script ran to the end (which
    needs the WebSocket); once more when the machine's network changed under
    Chromium (checks.py)."""
    from playwright.sync_api import Error as PlaywrightError

    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and len(errors) < 50 and errors.append(m.text))
    for attempt in range(2):
        seen = len(errors)
        try:
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text(APP_TEXT).first.wait_for()
            page.get_by_text(REPORT_TEXT).first.wait_for()
            break
        except PlaywrightError as exc:
            if attempt or NETWORK_CHANGED not in " ".join([str(exc), *errors[seen:]]):
                raise
    if screenshot:
        page.screenshot(path=str(screenshot), full_page=True)
    return page.inner_text("body")


def reported(text: str, label: str) -> str:
    """The value the app shows after 'label: '."""
    match = re.search(rf"^{re.escape(label)}: (.*)$", text, re.M)
    return match.group(1).strip() if match else ""

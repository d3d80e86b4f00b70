"""Black-box checks of a deployed Streamlit app, as a user and a browser see it.

Plain functions, no pytest: the same call serves as a positive check against a
good proxy location and as a negative control against a broken one, so none of
them raises because the app misbehaves; they report what they saw.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

APP_TEXT = "Hello from Streamlit ops"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _connect(url: str, timeout: float):
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    if parts.scheme in ("https", "wss"):
        return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout)
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout)


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def http_get(url: str, timeout: float = 10) -> tuple[int, str, dict[str, str]]:
    """GET without following redirects: (status, body text, lower-cased headers)."""
    conn = _connect(url, timeout)
    try:
        conn.request("GET", _target(url))
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", errors="replace")
        return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def fetch_encoded(url: str, accept_encoding: str, timeout: float = 30) -> tuple[int, bytes, dict[str, str]]:
    """GET with this Accept-Encoding: (status, the body as sent, undecoded, lower-cased headers)."""
    conn = _connect(url, timeout)
    try:
        conn.request("GET", _target(url), headers={"Accept-Encoding": accept_encoding})
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def main_bundle(app_url: str) -> tuple[str, bytes]:
    """The URL of Streamlit's main JS bundle under app_url, and its plain bytes."""
    status, page, dummy = fetch_encoded(app_url, "identity")
    assert status == 200
    match = re.search(rb'src="\./(static/js/index\.[^"]+\.js)"', page)
    assert match, "no main bundle in Streamlit's index page"
    url = app_url + match.group(1).decode()
    status, plain, headers = fetch_encoded(url, "identity")
    assert status == 200 and "content-encoding" not in headers, headers
    return url, plain


def stream_url(app_url: str) -> str:
    return app_url.rstrip("/") + "/_stcore/stream"


def websocket_handshake(url: str, origin: str | None = None, timeout: float = 10, headers: dict | None = None,
                        context: ssl.SSLContext | None = None) -> int:
    """Upgrade `<app url>_stcore/stream` to a WebSocket and return the HTTP status.

    101 means a real upgrade (the Sec-WebSocket-Accept is verified); any other
    status is returned as is (a redirect is not followed), and 0 means no HTTP
    answer at all (refused, reset, timed out). `headers` go with the upgrade;
    `context` replaces the default TLS context (which verifies).
    """
    parts = urlsplit(stream_url(url))
    tls = parts.scheme in ("https", "wss")
    port = parts.port or (443 if tls else 80)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        # What Streamlit's frontend offers; the server picks "streamlit".
        "Sec-WebSocket-Protocol: streamlit",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout) as raw:
            sock = (context or ssl.create_default_context()).wrap_socket(raw, server_hostname=parts.hostname) if tls else raw
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536 and time.monotonic() < deadline:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
            status = _status_of(head)
            if status == 101:
                _check_accept(head, key)
                # A clean close (code 1000, masked as clients must) keeps server logs quiet.
                mask = os.urandom(4)
                sock.sendall(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"\x03\xe8")))
            return status
    except OSError:
        return 0


def _status_of(head: bytes) -> int:
    line = head.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else 0


def _check_accept(head: bytes, key: str) -> None:
    expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    for line in head.split(b"\r\n")[1:]:
        name, dummy, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "sec-websocket-accept" and value.strip() == expected:
            return
    raise ValueError(f"101 without a valid Sec-WebSocket-Accept: {head[:400]!r}")


@dataclass
class BrowserResult:
    loaded: bool = False  # the app's own text rendered, i.e. the script ran over the WebSocket
    reacted: bool = False  # moving the slider re-ran the script: "Result: 18"
    ws_urls: list[str] = field(default_factory=list)
    ws_frames_received: int = 0
    console_errors: list[str] = field(default_factory=list)
    screenshot: str | None = None
    text: str = ""  # visible page text at the end, for failure messages
    error: str | None = None  # a browser-level failure (launch, navigation)


# Chromium aborts every request in flight but loopback ones when an address
# on the machine comes or goes (net::ERR_NETWORK_CHANGED): on a CI machine,
# when the other lane creates or destroys its test network.
NETWORK_CHANGED = "ERR_NETWORK_CHANGED"


def browser_session(url: str, screenshot: str | None = None, timeout_s: float = 30) -> BrowserResult:
    """Open the app in headless Chromium, move the slider, and report what happened.

    Each wait is bounded by timeout_s; an app that never loads yields
    loaded=False (and a screenshot of whatever the page shows) instead of an error.
    A session that failed while the machine's network changed under Chromium
    is tried once more; the first try's errors are kept in the result.
    """
    result = _browser_session(url, screenshot, timeout_s)
    if not (result.loaded and result.reacted) and any(NETWORK_CHANGED in e for e in result.console_errors):
        again = _browser_session(url, screenshot, timeout_s)
        again.console_errors = [f"(first try) {e}" for e in result.console_errors[:5]] + again.console_errors
        return again
    return result


def _browser_session(url: str, screenshot: str | None, timeout_s: float) -> BrowserResult:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    result = BrowserResult()
    wait_ms = int(timeout_s * 1000)

    def on_websocket(ws):
        result.ws_urls.append(ws.url)

        def on_frame(_payload):
            result.ws_frames_received += 1

        ws.on("framereceived", on_frame)

    def note_error(text):
        if len(result.console_errors) < 50:  # a reconnect loop logs without end
            result.console_errors.append(text)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.set_default_timeout(wait_ms)
            page.on("websocket", on_websocket)
            page.on("console", lambda m: m.type == "error" and note_error(m.text))
            page.on("pageerror", lambda e: note_error(str(e)))
            try:
                page.goto(url, wait_until="domcontentloaded", timeout=wait_ms)
                page.get_by_text(APP_TEXT).wait_for(timeout=wait_ms)
                result.loaded = True
                # The ARIA role, not a [role=slider] attribute: Streamlit 1.67 renders a
                # visually hidden <input type="range"> whose role is implicit.
                slider = page.get_by_role("slider", name="Multiplier")
                slider.focus()
                slider.press("ArrowRight")
                page.get_by_text("Result: 18", exact=True).wait_for(timeout=wait_ms)
                result.reacted = True
            except PlaywrightError as exc:  # includes TimeoutError
                result.error = str(exc).splitlines()[0]
            try:
                result.text = page.locator("body").inner_text(timeout=2000)[:2000]
                if screenshot:
                    page.screenshot(path=screenshot, full_page=True, timeout=10000)
                    result.screenshot = screenshot
            except PlaywrightError as exc:
                result.error = result.error or str(exc).splitlines()[0]
        finally:
            browser.close()
    return result

"""Headless Chromium through the master, with the server name mapped to the
master's address and its self-signed certificate accepted.

A Tab is one fresh browser session (its own context: no cookies shared) that
counts the WebSockets its page opens. Like checks.py, the helpers report what
they saw instead of raising when the app misbehaves.
"""

from __future__ import annotations

from contextlib import contextmanager

from checks import APP_TEXT, CHROMIUM, CHROMIUM_ARGS, NETWORK_CHANGED

SECOND_PAGE_TEXT = "This is the second page of Streamlit ops"


@contextmanager
def chromium(server_name: str, address: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {server_name} {address}"],
        )
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    def __init__(self, browser, timeout_s: float = 30):
        self.context = browser.new_context(ignore_https_errors=True, viewport={"width": 1100, "height": 900})
        self.page = self.context.new_page()
        self.wait_ms = int(timeout_s * 1000)
        self.page.set_default_timeout(self.wait_ms)
        self.websockets: list[str] = []
        self.console_errors: list[str] = []
        self.error: str | None = None
        self.page.on("websocket", lambda ws: self.websockets.append(ws.url))
        self.page.on("console", lambda m: m.type == "error" and len(self.console_errors) < 50
                     and self.console_errors.append(m.text))

    def _try(self, action) -> bool:
        from playwright.sync_api import Error as PlaywrightError

        try:
            action()
            return True
        except PlaywrightError as exc:  # includes TimeoutError
            self.error = str(exc).splitlines()[0]
            return False

    def open(self, url: str, text: str = APP_TEXT) -> bool:
        """Load url and wait until the script's text renders (it needs the WebSocket);
        once more when the machine's network changed under Chromium (checks.py)."""
        def load():
            seen = len(self.console_errors)
            done = self._try(lambda: (self.page.goto(url, wait_until="domcontentloaded", timeout=self.wait_ms),
                                      self.page.get_by_text(text).first.wait_for(timeout=self.wait_ms)))
            return done, any(NETWORK_CHANGED in e for e in self.console_errors[seen:])
        done, changed = load()
        return done or (changed and load()[0])

    def shows(self, text: str, timeout_s: float | None = None) -> bool:
        ms = self.wait_ms if timeout_s is None else int(timeout_s * 1000)
        return self._try(lambda: self.page.get_by_text(text, exact=False).first.wait_for(timeout=ms))

    def move_slider(self, presses: int = 1) -> bool:
        """Move Multiplier from 2 by `presses` and wait for the script's new result."""
        def act():
            slider = self.page.get_by_role("slider", name="Multiplier")
            slider.focus()
            for dummy in range(presses):
                slider.press("ArrowRight")
            self.page.get_by_text(f"Result: {6 * (2 + presses)}", exact=True).wait_for(timeout=self.wait_ms)
        return self._try(act)

    def upload(self, path: str) -> bool:
        return self._try(lambda: self.page.locator("input[type=file]").set_input_files(path, timeout=self.wait_ms))

    def text(self) -> str:
        from playwright.sync_api import Error as PlaywrightError

        try:
            return self.page.locator("body").inner_text(timeout=2000)[:2000]
        except PlaywrightError:
            return ""

    def screenshot(self, path: str) -> None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            self.page.screenshot(path=path, full_page=True, timeout=10000)
        except PlaywrightError as exc:
            self.error = self.error or str(exc).splitlines()[0]

    def seen(self) -> str:
        return f"error={self.error}; websockets={self.websockets}; page={self.text()!r}; console={self.console_errors[:5]}"

    def close(self) -> None:
        self.context.close()

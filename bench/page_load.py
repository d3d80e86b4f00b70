"""First page load: headless Chromium opens the app through the master and
directly against one child, and counts the bytes on the wire and the time
until the app's text shows.

Every load gets a fresh browser context (empty cache, no cookies) and a CDP
session with the network domain on. Bytes on the wire are the sum of
``encodedDataLength`` over ``Network.loadingFinished``: every HTTP response
of the load as received, headers included, compressed when the server
compressed it. WebSocket traffic is not in that sum: CDP gives a frame's
payload only after the WebSocket extensions have decoded it, not its size on
the wire; the frames' count and payload bytes are reported beside it.
A load ends when the text is visible and then no request has started or
finished for QUIET_S (bounded by SETTLE_MAX_S), so late chunks and fonts count.
Loads alternate between the two paths, the first path flipping every pair;
one warm-up load per path is not counted. Reported: medians of both.
"""

from __future__ import annotations

import base64
import collections
import time

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

try:
    from . import streamlit_session as ss
except ImportError:
    import streamlit_session as ss

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-proxy-server", "--disable-extensions"]
GOAL = 0.35
FULL = {"loads": 7, "warmup": 1, "timeout_s": 60, "max_seconds": 600}
SMOKE = {"loads": 2, "warmup": 0, "timeout_s": 60, "max_seconds": 120}
QUIET_S = 1.0
SETTLE_MAX_S = 10.0


# Fonts and images arrive compressed by their format; no proxy can shrink them.
PRECOMPRESSED = (".woff2", ".woff", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico")


def _precompressed(url: str | None) -> bool:
    return (url or "").split("?", 1)[0].lower().endswith(PRECOMPRESSED)


class Load:
    """The CDP network log of one page load."""

    def __init__(self):
        self.requests: dict[str, dict] = {}
        self.ws_frames = collections.Counter()
        self.ws_bytes = collections.Counter()
        self.last_event = time.monotonic()

    def _req(self, request_id: str) -> dict:
        return self.requests.setdefault(request_id, {"url": None, "status": None, "encoding": None,
                                                     "encoded": 0, "decoded": 0, "failed": None})

    def on_request(self, ev):
        self._req(ev["requestId"])["url"] = ev["request"]["url"]
        self.last_event = time.monotonic()

    def on_response(self, ev):
        req = self._req(ev["requestId"])
        resp = ev["response"]
        req["status"] = resp.get("status")
        headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
        req["encoding"] = headers.get("content-encoding")
        req["url"] = req["url"] or resp.get("url")

    def on_data(self, ev):
        self._req(ev["requestId"])["decoded"] += ev.get("dataLength", 0)

    def on_finished(self, ev):
        self._req(ev["requestId"])["encoded"] = ev.get("encodedDataLength", 0)
        self.last_event = time.monotonic()

    def on_failed(self, ev):
        self._req(ev["requestId"])["failed"] = ev.get("errorText")
        self.last_event = time.monotonic()

    def _on_frame(self, direction: str, ev):
        frame = ev["response"]
        payload = frame.get("payloadData", "")
        size = len(base64.b64decode(payload)) if frame.get("opcode") == 2 else len(payload.encode())
        self.ws_frames[direction] += 1
        self.ws_bytes[direction] += size

    def attach(self, cdp) -> None:
        cdp.on("Network.requestWillBeSent", self.on_request)
        cdp.on("Network.responseReceived", self.on_response)
        cdp.on("Network.dataReceived", self.on_data)
        cdp.on("Network.loadingFinished", self.on_finished)
        cdp.on("Network.loadingFailed", self.on_failed)
        cdp.on("Network.webSocketFrameReceived", lambda ev: self._on_frame("received", ev))
        cdp.on("Network.webSocketFrameSent", lambda ev: self._on_frame("sent", ev))

    def summary(self) -> dict:
        done = [r for r in self.requests.values() if r["encoded"]]
        return {
            "http_bytes": sum(r["encoded"] for r in done),
            "http_bytes_text": sum(r["encoded"] for r in done if not _precompressed(r["url"])),
            "http_decoded_body_bytes": sum(r["decoded"] for r in done),
            "http_responses": len(done),
            "compressed_responses": sum(1 for r in done if r["encoding"]),
            "failed": [r for r in self.requests.values() if r["failed"]],
            "ws_frames": dict(self.ws_frames),
            "ws_payload_bytes": dict(self.ws_bytes),
            "resources": sorted(done, key=lambda r: -r["encoded"]),
        }


# Chromium aborts requests in flight when an address on the machine comes or
# goes: on a CI machine, when the other lane creates or removes its test network.
NETWORK_CHANGED = "ERR_NETWORK_CHANGED"


def load_once(browser, url: str, text: str, timeout_s: float) -> dict:
    """One cold load; once more when the machine's network changed under Chromium."""
    log = Load()
    try:
        return _load(browser, url, text, timeout_s, log)
    except PlaywrightError as exc:
        if NETWORK_CHANGED not in " ".join([str(exc), *(str(r["failed"]) for r in log.requests.values())]):
            raise
    return _load(browser, url, text, timeout_s, Load())


def _load(browser, url: str, text: str, timeout_s: float, log: Load) -> dict:
    context = browser.new_context(service_workers="block")
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        log.attach(cdp)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        started = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout_s * 1000)
        text_s = time.perf_counter() - started
        settle_until = time.monotonic() + SETTLE_MAX_S
        while time.monotonic() < settle_until and time.monotonic() - log.last_event < QUIET_S:
            page.wait_for_timeout(100)
        nav = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n ? {responseStart: n.responseStart, domContentLoaded: n.domContentLoadedEventEnd,"
            " load: n.loadEventEnd, transferSize: n.transferSize} : null; }")
        result = log.summary()
        result.update({"url": url, "text_s": text_s, "navigation_ms": nav})
        return result
    finally:
        context.close()


def measure(fleet: dict, loads: int, warmup: int, timeout_s: float, max_seconds: float) -> dict:
    text = fleet["app"]["text"]
    urls = {name: ss.base_url(t["ip"], t["port"], t["path"]) for name, t in ss.targets(fleet).items()}
    counted: dict[str, list[dict]] = {name: [] for name in urls}
    warm: dict[str, list[dict]] = {name: [] for name in urls}
    deadline = time.monotonic() + max_seconds
    truncated = False
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            order = list(urls)
            for number in range(warmup + loads):
                if time.monotonic() > deadline:
                    truncated = True
                    break
                for name in (order if number % 2 == 0 else order[::-1]):
                    sample = load_once(browser, urls[name], text, timeout_s)
                    (warm if number < warmup else counted)[name].append(sample)
        finally:
            browser.close()
    return {"urls": urls, "counted": counted, "warmup": warm, "truncated": truncated}


def summarise(raw: dict, smoke: bool) -> dict:
    counted = raw["counted"]

    def med(name, key):
        return ss.median([s[key] for s in counted[name]])

    def med_ws(name):
        return ss.median([s["ws_payload_bytes"].get("received", 0) for s in counted[name]])

    text_ms = {name: (med(name, "text_s") or 0) * 1000 for name in counted}
    rows = [
        ss.row("first load, HTTP bytes on the wire (median)", med("master", "http_bytes"), "B",
               "direct to child", med("direct", "http_bytes"), goal=f"<= {GOAL}x", limit=GOAL, smoke=smoke),
        ss.row("first load, HTTP bytes without fonts and images (median)", med("master", "http_bytes_text"), "B",
               "direct to child", med("direct", "http_bytes_text")),
        ss.row("first load, time until the app's text shows (median)", text_ms["master"], "ms",
               "direct to child", text_ms["direct"]),
        ss.row("first load, WebSocket payload received (median, not in bytes on the wire)",
               med_ws("master"), "B", "direct to child", med_ws("direct")),
    ]
    per_load = {name: [{k: s[k] for k in ("http_bytes", "http_bytes_text", "http_decoded_body_bytes", "http_responses",
                                          "compressed_responses", "ws_frames", "ws_payload_bytes",
                                          "text_s", "navigation_ms")} | {"failed": len(s["failed"])}
                       for s in samples] for name, samples in counted.items()}
    details = {
        "method": "fresh context per load, CDP Network.loadingFinished encodedDataLength summed (HTTP "
                  "responses incl. headers); WebSocket frames counted apart by decoded payload; loads "
                  "alternate between paths; the time runs from navigation start to the text visible",
        "smoke": smoke,
        "urls": raw["urls"],
        "loads": per_load,
        "warmup_loads": {name: len(v) for name, v in raw["warmup"].items()},
        "median_http_decoded_body_bytes": {name: med(name, "http_decoded_body_bytes") for name in counted},
        "resources_last_load": {name: [{k: r[k] for k in ("url", "status", "encoding", "encoded", "decoded")}
                                       for r in samples[-1]["resources"]] if samples else []
                                for name, samples in counted.items()},
        "failed_requests": {name: [f for s in samples for f in s["failed"]] for name, samples in counted.items()},
        "truncated": raw["truncated"],
    }
    return {"title": "First page load (headless Chromium, cold cache)", "rows": rows, "details": details}


def run(fleet: dict, smoke: bool = False) -> dict:
    params = SMOKE if smoke else FULL
    result = summarise(measure(fleet, **params), smoke)
    result["details"]["params"] = params
    return result


if __name__ == "__main__":
    ss.cli(run, __doc__.splitlines()[0])

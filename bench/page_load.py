"""First page load over HTTPS and HTTP/2, as a browser does it: headless Chromium
opens the app through our master, through the Caddy peer's HTTPS site and
directly against one child; bytes on the wire, the compression floor, time
until the app's text shows, and a repeat visit with a warm cache.

Paths. ``master``: https://MASTER/<path>. For this measurement the master is
reconfigured by the real role (bench/playbooks/master.yml) with
``nginx_proxy_tls_certificate`` and ``_key``, a self-signed certificate (ECDSA
P-256, IP SAN = the master's IP) generated into the bench workdir, so it serves
TLS and HTTP/2 on 443; the master is configured again without TLS at the end,
whatever happened, as the next measurements use plain HTTP on port 80.
``caddy``: bench/caddy.py's ``https://MASTER:8443`` site (``tls internal``,
``encode zstd gzip``, ``lb_policy cookie``). ``direct``: http://CHILD1:8501/<path>,
plain HTTP/1.1 and no compression (Streamlit compresses nothing): the
uncompressed reference.

Certificates. Chromium gets ``--ignore-certificate-errors-spki-list`` with the
SHA-256 of the public key of the certificate each HTTPS site presents (read with
a TLS handshake before the loads), not ``--ignore-certificate-errors``: with
the latter the certificates stay in error and Chromium caches nothing from
such a site, so the repeat visit would download everything again (measured:
1,161,180 B instead of 483 B through Caddy). With the SPKI list they verify as
valid (CDP ``securityState`` "secure"), as a trusted certificate would.

A visit is one fresh browser context (empty cache, no cookies, service workers
blocked) with the HTTP cache on, as in a browser: a first (cold) load in a
tab, then the tab closed and a second load of the same URL in a new tab of the
same context (the repeat visit, warm cache: Streamlit's hashed assets come from
the cache, the rest is revalidated or fetched). Each load has its own CDP
session with the network domain on. A load ends when the text is visible and
then no request has started or finished for QUIET_S (bounded by SETTLE_MAX_S),
so late chunks and fonts count. Visits alternate between the paths, the first
path rotating every visit; one warm-up visit per path is not counted (full run).

Bytes on the wire: the sum of ``encodedDataLength`` over
``Network.loadingFinished``: every HTTP response of the load as received,
headers included (with HTTP/2, the HEADERS and DATA frames as Chromium counts
them), compressed when the server compressed it; responses served from the
cache count 0. Not in it: the TLS handshake and TCP/IP overhead, and
WebSocket traffic (CDP gives a frame's payload only after the WebSocket
extensions decoded it, not its size on the wire); the frames' count and
payload bytes are reported beside it. "Without fonts and images" leaves out
responses whose URL ends in PRECOMPRESSED. The encodings are the responses'
``Content-Encoding`` (none = identity), the protocol CDP's
``response.protocol``, each counted over the responses that came over the
network.

The compression floor, per load and path (the master's is the goal's floor):
the same responses of that load, each with its header bytes as measured
(``encodedDataLength`` minus the body as it came on the wire, Resource
Timing's ``encodedBodySize`` for the URL) plus a body of

- ``min(len(brotli.compress(body, quality=11)), len(body))`` for a compressible
  response (URL not in PRECOMPRESSED, MIME type not image/* or font/* except
  SVG; the body not empty), where ``body`` is the decoded body Chromium
  received (CDP ``Network.getResponseBody``): brotli at its best quality
  (default window 2^22, above the largest body), or identity when that is
  smaller;
- the body as it came on the wire for every other response (fonts and
  images as they are).

So the floor is what the same load would cost if every compressible response
were precompressed with brotli 11, and nothing else changed; a
``Content-Encoding: br`` header where identity was sent is not added (a few
bytes). A response whose body or ``encodedBodySize`` is unavailable counts as
measured (their number is in ``details.floor_unavailable``).

Reported per path: the medians of bytes, bytes without fonts and images, the
time from navigation start to the text visible (cold), the repeat visit's bytes
(as a ratio to the cold direct load; goal <= REPEAT_GOAL for the master, a
"must not regress" bound: about 0.0004x, 1 kB, when it came in), encodings and
protocol (the master's must be h2 only, judged in smoke runs too). Goal: the
master's first load <= FLOOR_GOAL x its floor; its ratio to direct is reported
(the old goal of 0.35x direct with gzip is retired).
"""

from __future__ import annotations

import base64
import collections
import datetime
import hashlib
import http.client
import ipaddress
import os
import socket
import ssl
import time

import brotli
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

try:
    from . import caddy
    from . import fleet as fl
    from . import streamlit_session as ss
except ImportError:
    import caddy
    import fleet as fl
    import streamlit_session as ss

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-proxy-server", "--disable-extensions"]
PATHS = ("master", "caddy", "direct")
FLOOR_GOAL = 1.05
REPEAT_GOAL = 0.01
HTTPS_PORT = 443  # nginx_proxy_https_port's default
FULL = {"visits": 7, "warmup": 1, "timeout_s": 60, "max_seconds": 600}
SMOKE = {"visits": 1, "warmup": 0, "timeout_s": 60, "max_seconds": 90}
QUIET_S = 1.0
SETTLE_MAX_S = 10.0
BROTLI_QUALITY = 11
# Room for every body of a load until getResponseBody reads it (the largest is under 1 MB).
BODY_BUFFERS = {"maxTotalBufferSize": 200_000_000, "maxResourceBufferSize": 50_000_000}

# Fonts and images arrive compressed by their format; no proxy can shrink them.
PRECOMPRESSED = (".woff2", ".woff", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico")


def _precompressed(url: str | None) -> bool:
    return (url or "").split("?", 1)[0].lower().endswith(PRECOMPRESSED)


def _compressible(req: dict) -> bool:
    mime = (req["mime"] or "").lower()
    binary = mime.startswith(("image/", "font/")) and mime != "image/svg+xml"
    return not _precompressed(req["url"]) and not binary


class Load:
    """The CDP network log of one page load."""

    def __init__(self):
        self.requests: dict[str, dict] = {}
        self.ws_frames = collections.Counter()
        self.ws_bytes = collections.Counter()
        self.last_event = time.monotonic()

    def _req(self, request_id: str) -> dict:
        return self.requests.setdefault(request_id, {"url": None, "status": None, "encoding": None, "protocol": None,
                                                     "mime": None, "cached": False, "encoded": 0, "decoded": 0,
                                                     "failed": None})

    def on_request(self, ev):
        self._req(ev["requestId"])["url"] = ev["request"]["url"]
        self.last_event = time.monotonic()

    def on_response(self, ev):
        req = self._req(ev["requestId"])
        resp = ev["response"]
        req["status"] = resp.get("status")
        headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
        req["encoding"] = headers.get("content-encoding")
        req["protocol"] = resp.get("protocol")
        req["mime"] = resp.get("mimeType")
        req["cached"] = req["cached"] or bool(resp.get("fromDiskCache") or resp.get("fromPrefetchCache"))
        req["url"] = req["url"] or resp.get("url")

    def on_cached(self, ev):
        self._req(ev["requestId"])["cached"] = True

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
        cdp.on("Network.requestServedFromCache", self.on_cached)
        cdp.on("Network.dataReceived", self.on_data)
        cdp.on("Network.loadingFinished", self.on_finished)
        cdp.on("Network.loadingFailed", self.on_failed)
        cdp.on("Network.webSocketFrameReceived", lambda ev: self._on_frame("received", ev))
        cdp.on("Network.webSocketFrameSent", lambda ev: self._on_frame("sent", ev))

    def network(self) -> dict[str, dict]:
        """The responses that came over the network (cache hits count 0 bytes)."""
        return {rid: r for rid, r in self.requests.items() if r["encoded"]}

    def summary(self) -> dict:
        done = list(self.network().values())
        return {
            "http_bytes": sum(r["encoded"] for r in done),
            "http_bytes_text": sum(r["encoded"] for r in done if not _precompressed(r["url"])),
            "http_decoded_body_bytes": sum(r["decoded"] for r in done),
            "http_responses": len(done),
            "from_cache": sum(1 for r in self.requests.values() if r["cached"]),
            "compressed_responses": sum(1 for r in done if r["encoding"]),
            "encodings": dict(collections.Counter(r["encoding"] or "identity" for r in done)),
            "encoded_bytes_by_encoding": _sum_by(done, lambda r: r["encoding"] or "identity"),
            "protocols": dict(collections.Counter(r["protocol"] or "?" for r in done)),
            "failed": [r for r in self.requests.values() if r["failed"]],
            "ws_frames": dict(self.ws_frames),
            "ws_payload_bytes": dict(self.ws_bytes),
            "resources": sorted(done, key=lambda r: -r["encoded"]),
        }


def _sum_by(requests: list[dict], key) -> dict:
    sums: collections.Counter = collections.Counter()
    for r in requests:
        sums[key(r)] += r["encoded"]
    return dict(sums)


class Floor:
    """Brotli-11 sizes of decoded bodies, computed once per distinct body."""

    def __init__(self):
        self.sizes: dict[str, int] = {}
        self.seconds = 0.0

    def size(self, body: bytes) -> int:
        digest = hashlib.sha256(body).hexdigest()
        if digest not in self.sizes:
            started = time.perf_counter()
            self.sizes[digest] = len(brotli.compress(body, quality=BROTLI_QUALITY))
            self.seconds += time.perf_counter() - started
        return self.sizes[digest]

    def of_load(self, log: Load, cdp, body_on_wire: dict[str, int]) -> dict:
        """The floor of one load (module docstring): bytes, and how many responses it changed."""
        total = replaced = unavailable = 0
        for rid, req in log.network().items():
            wire = body_on_wire.get(req["url"])
            if not _compressible(req) or wire is None:
                unavailable += _compressible(req)
                total += req["encoded"]
                continue
            try:
                got = cdp.send("Network.getResponseBody", {"requestId": rid})
            except PlaywrightError:
                unavailable += 1
                total += req["encoded"]
                continue
            body = base64.b64decode(got["body"]) if got.get("base64Encoded") else got["body"].encode()
            if not body:
                total += req["encoded"]
                continue
            total += req["encoded"] - wire + min(self.size(body), len(body))
            replaced += 1
        return {"bytes": total, "replaced": replaced, "unavailable": unavailable}


# Chromium aborts requests in flight when an address on the machine comes or
# goes: on a CI machine, when the other lane creates or removes its test network.
NETWORK_CHANGED = "ERR_NETWORK_CHANGED"

# Resource Timing: the body of each URL as it came on the wire (encodedBodySize).
BODY_SIZES_JS = ("() => Object.fromEntries(performance.getEntriesByType('navigation')"
                 ".concat(performance.getEntriesByType('resource')).map(e => [e.name, e.encodedBodySize]))")
NAVIGATION_JS = ("() => { const n = performance.getEntriesByType('navigation')[0];"
                 " return n ? {responseStart: n.responseStart, domContentLoaded: n.domContentLoadedEventEnd,"
                 " load: n.loadEventEnd, transferSize: n.transferSize} : null; }")


def visit(browser, url: str, text: str, timeout_s: float, floor: Floor | None) -> dict:
    """A cold load and a repeat visit in one context; the whole visit once more when
    the machine's network changed under Chromium."""
    logs: list[Load] = []
    try:
        return _visit(browser, url, text, timeout_s, floor, logs)
    except PlaywrightError as exc:
        failed = (str(r["failed"]) for log in logs for r in log.requests.values())
        if NETWORK_CHANGED not in " ".join([str(exc), *failed]):
            raise
    result = _visit(browser, url, text, timeout_s, floor, [])
    result["retried"] = True
    return result


def _visit(browser, url: str, text: str, timeout_s: float, floor: Floor | None, logs: list[Load]) -> dict:
    context = browser.new_context(service_workers="block")
    # Room for every resource's timing entry (the default buffer holds 250).
    context.add_init_script("performance.setResourceTimingBufferSize(2000)")
    try:
        cold = _load(context, url, text, timeout_s, floor, logs)
        warm = _load(context, url, text, timeout_s, None, logs)
        return {"cold": cold, "warm": warm, "retried": False}
    finally:
        context.close()


def _load(context, url: str, text: str, timeout_s: float, floor: Floor | None, logs: list[Load]) -> dict:
    log = Load()
    logs.append(log)
    page = context.new_page()
    try:
        cdp = context.new_cdp_session(page)
        log.attach(cdp)
        cdp.send("Network.enable", BODY_BUFFERS if floor else {})
        started = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout_s * 1000)
        text_s = time.perf_counter() - started
        settle_until = time.monotonic() + SETTLE_MAX_S
        while time.monotonic() < settle_until and time.monotonic() - log.last_event < QUIET_S:
            page.wait_for_timeout(100)
        result = log.summary()
        result.update({"url": url, "text_s": text_s, "navigation_ms": page.evaluate(NAVIGATION_JS)})
        if floor is not None:
            result["floor"] = floor.of_load(log, cdp, page.evaluate(BODY_SIZES_JS))
        return result
    finally:
        page.close()


def make_certificate(fleet: dict) -> tuple[str, str]:
    """A self-signed certificate for the master's IP, and its key, in the bench workdir."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ip = fleet["master"]["ip"]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .sign(key, hashes.SHA256()))
    folder = fl.workdir(fleet) / "tls"
    folder.mkdir(exist_ok=True)
    cert_path, key_path = folder / "page-load.crt", folder / "page-load.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    os.chmod(key_path, 0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def spki_sha256(host: str, port: int) -> str:
    """base64 SHA-256 of the public key of the certificate the site presents now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    context = ssl._create_unverified_context()  # reading the certificate is the point
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    spki = x509.load_der_x509_certificate(der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _status(scheme: str, host: str, port: int, path: str) -> int | None:
    conn = (http.client.HTTPSConnection(host, port, timeout=5, context=ssl._create_unverified_context())
            if scheme == "https" else http.client.HTTPConnection(host, port, timeout=5))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _wait_status(scheme: str, host: str, port: int, path: str, want: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while (got := _status(scheme, host, port, path)) != want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{scheme}://{host}:{port}{path} answered {got}, not {want}, within {seconds} s")
        time.sleep(0.5)


def measure(fleet: dict, visits: int, warmup: int, timeout_s: float, max_seconds: float) -> dict:
    text = fleet["app"]["text"]
    path = fleet["app"]["path"]
    master_ip = fleet["master"]["ip"]
    child = fleet["children"][0]
    peer = caddy.ensure(fleet)
    cert, key = make_certificate(fleet)
    configure_s = {}
    try:
        started = time.monotonic()
        fl.configure_master(fleet, [fl.app_backends(fleet)], "page-load-tls",
                            extra={"nginx_proxy_tls_certificate": cert, "nginx_proxy_tls_certificate_key": key})
        configure_s["tls"] = time.monotonic() - started
        _wait_status("https", master_ip, HTTPS_PORT, path, 200)
        urls = {"master": f"https://{master_ip}{path}", "caddy": peer["https"] + path,
                "direct": ss.base_url(child["ip"], int(fleet["app"]["port"]), path)}
        caddy_port = int(peer["https"].rsplit(":", 1)[1])
        spkis = sorted({spki_sha256(master_ip, HTTPS_PORT), spki_sha256(master_ip, caddy_port)})
        counted: dict[str, list[dict]] = {name: [] for name in PATHS}
        warm: dict[str, list[dict]] = {name: [] for name in PATHS}
        floor = Floor()
        deadline = time.monotonic() + max_seconds
        truncated = False
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=[*CHROMIUM_ARGS, "--ignore-certificate-errors-spki-list=" + ",".join(spkis)])
            try:
                for number in range(warmup + visits):
                    if time.monotonic() > deadline:
                        truncated = True
                        break
                    turn = PATHS[number % len(PATHS):] + PATHS[:number % len(PATHS)]
                    for name in turn:
                        sample = visit(browser, urls[name], text, timeout_s, floor if number >= warmup else None)
                        (warm if number < warmup else counted)[name].append(sample)
            finally:
                browser.close()
    finally:
        started = time.monotonic()
        fl.configure_master(fleet, [fl.app_backends(fleet)], "page-load-restore")
        configure_s["restore"] = time.monotonic() - started
    _wait_status("http", master_ip, int(fleet["master"].get("port", 80)), path, 200)
    return {"urls": urls, "counted": counted, "warmup": warm, "truncated": truncated, "caddy": peer,
            "certificate": cert, "spki_sha256": spkis, "configure_s": configure_s,
            "brotli": {"bodies": len(floor.sizes), "seconds": floor.seconds}}


def _info_row(metric: str, value: str, floor_name: str, floor: str, goal: str = "reported", met=None) -> dict:
    return {"metric": metric, "value": value, "unit": "", "floor_name": floor_name, "floor": floor,
            "ratio": None, "goal": goal, "met": met}


def _mix(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def summarise(raw: dict, smoke: bool) -> dict:
    counted = raw["counted"]

    def med(name, load, key):
        return ss.median([s[load][key] for s in counted[name]])

    def med_floor(name):
        return ss.median([s["cold"]["floor"]["bytes"] for s in counted[name]])

    def med_ws(name):
        return ss.median([s["cold"]["ws_payload_bytes"].get("received", 0) for s in counted[name]])

    def mix(name, key):
        total: collections.Counter = collections.Counter()
        for s in counted[name]:
            total.update(s["cold"][key])
        return _mix({k: round(v / max(1, len(counted[name]))) for k, v in total.items()})

    def mode(name):
        return f"{mix(name, 'protocols')}; {mix(name, 'encodings')}"

    label = {"master": "our master (HTTPS)", "caddy": "Caddy (HTTPS, peer)", "direct": "direct to child (HTTP)"}
    cold = {name: med(name, "cold", "http_bytes") for name in PATHS}
    text = {name: med(name, "cold", "http_bytes_text") for name in PATHS}
    text_ms = {name: (med(name, "cold", "text_s") or 0) * 1000 for name in PATHS}
    repeat = {name: med(name, "warm", "http_bytes") for name in PATHS}
    floor = {name: med_floor(name) for name in PATHS}
    direct = label["direct"]
    rows = [
        ss.row(f"first load through {label['master']}, HTTP bytes on the wire (median)", cold["master"], "B",
               "its brotli-11 floor", floor["master"], goal=f"<= {FLOOR_GOAL}x", limit=FLOOR_GOAL, smoke=smoke),
        ss.row(f"first load through {label['master']}, HTTP bytes on the wire (median)", cold["master"], "B",
               direct, cold["direct"], goal="reported"),
        ss.row(f"first load through {label['caddy']}, HTTP bytes on the wire (median)", cold["caddy"], "B",
               "its brotli-11 floor", floor["caddy"], goal="reported"),
        ss.row(f"first load through {label['caddy']}, HTTP bytes on the wire (median)", cold["caddy"], "B",
               direct, cold["direct"], goal="reported"),
        ss.row(f"first load through {label['master']}, HTTP bytes without fonts and images (median)",
               text["master"], "B", direct, text["direct"]),
        ss.row(f"first load through {label['caddy']}, HTTP bytes without fonts and images (median)",
               text["caddy"], "B", direct, text["direct"]),
        ss.row(f"first load through {label['master']}, time until the app's text shows (median)", text_ms["master"],
               "ms", direct, text_ms["direct"]),
        ss.row(f"first load through {label['caddy']}, time until the app's text shows (median)", text_ms["caddy"],
               "ms", direct, text_ms["direct"]),
        # Judged in smoke runs too: HTTP/2 is what the role serves with TLS, not a speed.
        _info_row(f"first load through {label['master']}, protocol; responses per Content-Encoding", mode("master"),
                  direct, mode("direct"), goal="h2 only",
                  met=bool(counted["master"]) and all(set(s["cold"]["protocols"]) == {"h2"} for s in counted["master"])),
        _info_row(f"first load through {label['caddy']}, protocol; responses per Content-Encoding", mode("caddy"),
                  direct, mode("direct")),
        ss.row(f"repeat visit (warm cache) through {label['master']}, HTTP bytes on the wire (median)",
               repeat["master"], "B", "cold load direct", cold["direct"], goal=f"<= {REPEAT_GOAL}x (must not regress)",
               limit=REPEAT_GOAL, smoke=smoke),
        ss.row(f"repeat visit (warm cache) through {label['caddy']}, HTTP bytes on the wire (median)",
               repeat["caddy"], "B", "cold load direct", cold["direct"], goal="reported"),
        ss.row(f"repeat visit (warm cache) {direct}, HTTP bytes on the wire (median)",
               repeat["direct"], "B", "cold load direct", cold["direct"], goal="reported"),
        ss.row("first load, WebSocket payload received (median, not in bytes on the wire), our master",
               med_ws("master"), "B", direct, med_ws("direct")),
    ]
    keys = ("http_bytes", "http_bytes_text", "http_decoded_body_bytes", "http_responses", "from_cache",
            "compressed_responses", "encodings", "encoded_bytes_by_encoding", "protocols", "ws_frames",
            "ws_payload_bytes", "text_s", "navigation_ms")

    def brief(load: dict) -> dict:
        return {k: load[k] for k in keys if k in load} | {"failed": len(load["failed"])} | (
            {"floor": load["floor"]} if "floor" in load else {})

    def resources(load: dict) -> list[dict]:
        return [{k: r[k] for k in ("url", "status", "protocol", "encoding", "mime", "encoded", "decoded")}
                for r in load["resources"]]

    details = {
        "method": "a visit = fresh context with the HTTP cache on: cold load, tab closed, repeat load in a new tab; "
                  "bytes = CDP Network.loadingFinished encodedDataLength summed over the responses that came over "
                  "the network (headers included, TLS and WebSocket not); floor = the same responses with every "
                  "compressible body at min(brotli 11, identity), header bytes as measured (see the module "
                  "docstring); visits alternate between paths, the first path rotating; time from navigation start "
                  "to the text visible",
        "smoke": smoke,
        "urls": raw["urls"],
        "median_bytes": {"cold": cold, "cold_without_fonts_images": text, "repeat": repeat, "floor": floor},
        "median_text_ms": text_ms,
        "median_repeat_text_ms": {name: (med(name, "warm", "text_s") or 0) * 1000 for name in PATHS},
        "ratios": {
            "master_over_floor": ss.ratio(cold["master"], floor["master"]),
            "caddy_over_floor": ss.ratio(cold["caddy"], floor["caddy"]),
            "master_over_direct": ss.ratio(cold["master"], cold["direct"]),
            "caddy_over_direct": ss.ratio(cold["caddy"], cold["direct"]),
            "master_over_caddy": ss.ratio(cold["master"], cold["caddy"]),
            "repeat_over_cold_direct": {name: ss.ratio(repeat[name], cold["direct"]) for name in PATHS},
        },
        "encodings": {name: mix(name, "encodings") for name in PATHS},
        "protocols": {name: mix(name, "protocols") for name in PATHS},
        "visits": {name: [{"cold": brief(s["cold"]), "repeat": brief(s["warm"]), "retried": s["retried"]}
                          for s in samples] for name, samples in counted.items()},
        "warmup_visits": {name: len(v) for name, v in raw["warmup"].items()},
        "floor_unavailable": {name: [s["cold"]["floor"]["unavailable"] for s in counted[name]]
                              for name in PATHS},
        "resources_last_visit": {name: {"cold": resources(samples[-1]["cold"]), "repeat": resources(samples[-1]["warm"])}
                                 if samples else {} for name, samples in counted.items()},
        "failed_requests": {name: [f for s in samples for load in ("cold", "warm") for f in s[load]["failed"]]
                            for name, samples in counted.items()},
        "truncated": raw["truncated"],
        "caddy": raw["caddy"],
        "certificate": raw["certificate"],
        "spki_sha256": raw["spki_sha256"],
        "configure_master_s": raw["configure_s"],
        "brotli": raw["brotli"],
    }
    return {"title": "First page load over HTTPS/HTTP2 (headless Chromium): master, Caddy, direct; floor; repeat visit",
            "rows": rows, "details": details}


def run(fleet: dict, smoke: bool = False) -> dict:
    params = SMOKE if smoke else FULL
    result = summarise(measure(fleet, **params), smoke)
    result["details"]["params"] = params
    return result


if __name__ == "__main__":
    ss.cli(run, __doc__.splitlines()[0])

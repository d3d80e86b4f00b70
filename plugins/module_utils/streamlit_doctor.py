# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The doctor's checks: probe a Streamlit app behind proxies from outside,
as a browser would, and name for each failure its cause and the one setting
that fixes it.

Each cause is reported by one check only. A check that cannot run because an
earlier one failed is a skip that points to it (no WebSocket, no upload), and
a symptom that another check explains is handed to it: a 404 on the page
when health found the proxy strips the path prefix, an upload that reached a
replica without its session when the sticky check runs.

The mapping from answers to causes (the *_cause functions) is pure, so unit
tests pin every answer to its cause and fix.
"""

from __future__ import annotations

import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.streamlit_wire import (
    BROWSER_ACCEPT_ENCODING,
    SELF_SIGNED_LEAF,
    Browser,
    Session,
    Target,
    TLSFailure,
    WireError,
    handshake,
)

CHECKS = ("access", "page", "health", "websocket", "origin", "upload", "sticky", "compression", "scheme", "idle",
          "intermediaries")
# Opt-in: idle waits idle_s seconds; access expects the app to refuse anyone without credentials.
OPT_IN = ("idle", "access")
DEFAULT_CHECKS = tuple(name for name in CHECKS if name not in OPT_IN)
# The checks that need Streamlit's page and session; access needs neither.
FEEDERS = ("page", "health", "websocket")
ORIGIN_EXPECTATIONS = ("any", "same-origin", "allow-list", "guarded")
FOREIGN_ORIGIN = "https://doctor-foreign-origin.invalid"
SMALL_UPLOAD = 16 * 1024
MIB = 1024 * 1024
# Fresh sessions the upload check may try when its upload reached a replica
# without the session and the sticky check is there to say so.
UPLOAD_TRIES = 3
# The sticky check's fresh sessions open this many at a time: as many
# browsers as that, not a load test of the app.
STICKY_AT_ONCE = 4
REDIRECTS = (301, 302, 303, 307, 308)
COMPRESSED = ("br", "gzip", "zstd", "deflate")

UPGRADE_FIX = ("Nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
               "proxy_set_header Connection \"upgrade\" (nginx_proxy sets all three); "
               "a CDN or load balancer: turn its WebSocket support on")
BACKEND_FIX = ("the proxy cannot reach Streamlit: check the app's container and port on the children "
               "(streamlit_ops: status.yml) and the proxy's upstream addresses")
AUTH_FIX = "something in front asks for credentials: pass them with doctor_headers (for example Authorization)"


def result(outcome: str, evidence: str, fix: str = "", cause: str = "", **details) -> dict:
    entry = {"result": outcome, "evidence": evidence, "fix": fix if outcome == "fail" else ""}
    if cause:
        entry["cause"] = cause
    if details:
        entry["details"] = details
    return entry


def passed(evidence: str, **details) -> dict:
    return result("pass", evidence, **details)


def skipped(evidence: str) -> dict:
    return result("skip", evidence)


# -- causes: answers to (cause, fix) -----------------------------------------------
# The causes status_cause gives: not any one check's own.
GENERIC_CAUSES = ("unreachable", "auth", "forbidden", "not_found", "backend_down", "server_error", "unexpected")


def status_cause(status: int, error: str = "") -> tuple:
    """The cause and fix of an answer that is neither success nor specific to a check."""
    if status == 0:
        return "unreachable", f"nothing answered ({error or 'no HTTP answer'}): check the URL, DNS, the port and firewalls"
    if status == 401:
        return "auth", AUTH_FIX
    if status == 403:
        return "forbidden", "an access rule in front refuses the doctor's address or request: allow it, or run the doctor from an allowed network"
    if status == 404:
        return "not_found", ("nothing routes this path to Streamlit: add a location for the app's path to the proxy "
                             "(drop-in mode: include the app snippet in that server block)")
    if status in (502, 503, 504):
        return "backend_down", BACKEND_FIX
    if status == 500:
        return "server_error", ("the proxy or the app failed on this request: read the proxy's error log (Nginx says why, "
                                "for example a client_body_temp_path its workers cannot write) and the app's log")
    return "unexpected", f"the answer {status} is not Streamlit's: look at what serves this path"


def health_cause(path: str, status: int, body: str, doubled_ok: bool, from_proxy: bool = False) -> tuple:
    """Why <path>_stcore/health did not answer 'ok'. A 404 the proxy wrote
    itself means nothing routes the path, not a wrong base path."""
    if doubled_ok:
        return "prefix_stripped", (
            f"the proxy strips the prefix {path} but Streamlit serves under server.baseUrlPath={path.strip('/')}: "
            f"keep the prefix (Nginx: give proxy_pass no URI part, proxy_pass http://backend; not http://backend/; "
            f"Caddy: handle, not handle_path), or set server.baseUrlPath to '' if the prefix must be stripped")
    if status == 404 and from_proxy:
        return status_cause(404)
    if status in (404, 200):
        base = path.strip("/")
        return "base_path", (
            f"Streamlit does not serve {path}: set server.baseUrlPath={base} (streamlit_ops: the app's path) "
            f"and keep the prefix in proxy_pass (no URI part)" if base else
            "Streamlit does not serve the root path: set server.baseUrlPath to '' and proxy_pass without a URI part")
    return status_cause(status)


def websocket_cause(status: int, upgraded: bool, error: str, body: str, origin: str, headers: dict) -> tuple:
    """Why the upgrade of <path>_stcore/stream did not give a working WebSocket."""
    if status == 101 and not upgraded:
        return "fake_upgrade", ("something between answered 101 itself, without the WebSocket key: "
                                "let WebSocket upgrades pass through to Streamlit")
    if status == 200:
        return "no_upgrade", UPGRADE_FIX
    if status == 400:
        return "bad_upgrade", (f"{UPGRADE_FIX}; and the Host header the browser sent (proxy_set_header Host $host)")
    if status == 426:
        return "http10", "Nginx talks HTTP/1.0 to Streamlit, which cannot upgrade: proxy_http_version 1.1"
    if status == 403:
        if _from_proxy(body, headers):
            return "proxy_origin", (f"the proxy's own Origin rule refuses the page's origin {origin}: "
                                    "allow it (streamlit_ops: the app's origins and origin_policy)")
        return "streamlit_origin", (
            f"Streamlit refused Origin {origin}: with server.enableCORS=true it compares Origin with the Host it "
            "receives; pass the browser's Host (proxy_set_header Host $host, not $proxy_host), or list the origin "
            "in server.corsAllowedOrigins, or set server.enableCORS=false")
    if status == 0 and "timed out" in error:
        return "stalled", ("the upgrade got no answer: a proxy or load balancer in between holds it (HTTP/2 only, "
                           "buffering, or WebSocket support off); turn WebSocket pass-through on there, and in Nginx "
                           f"set {UPGRADE_FIX.split(': ', 1)[1].split(' (')[0]}")
    return status_cause(status, error)


def upload_cause(status: int, body: str, headers: dict, size_mb: float) -> tuple:
    if status == 413:
        if _from_proxy(body, headers):
            return "proxy_body_limit", (f"the proxy refuses a {size_mb:g} MB body: Nginx client_max_body_size at least "
                                        "server.maxUploadSize + 1m (streamlit_ops: the app's max_upload_mb); "
                                        "a load balancer or CDN: its request body limit")
        return "streamlit_upload_limit", f"Streamlit's server.maxUploadSize is below {size_mb:g} MB: raise it (streamlit_ops: max_upload_mb)"
    if status == 403:
        return "xsrf", ("the upload's XSRF token was refused: the _streamlit_xsrf cookie must reach Streamlit with "
                        "the X-Xsrftoken header (do not strip cookies or headers), and every replica needs the "
                        "same server.cookieSecret (streamlit_ops: cookie_secret)")
    if status == 400 and "session_id" in body:
        return "no_sticky", ("the upload reached a replica that does not hold its session: route each browser to one "
                             "replica (Nginx: hash on a cookie or ip_hash; streamlit_ops: the app's sticky; "
                             "Caddy: lb_policy cookie; a load balancer: session affinity)")
    if status == 0:
        return "upload_reset", ("the connection was reset during the upload: a proxy or load balancer body limit "
                                "or timeout (Nginx client_max_body_size, client_body_timeout)")
    return status_cause(status)


def access_answer(status: int, location: str, app_url: str, from_app: bool = False) -> str:
    """What an answer to a client without credentials means: refused (401, 403, or a redirect that leaves the
    app, as to a sign-in page), served, or an error (5xx, nothing). An answer Streamlit wrote itself (from_app:
    its 403 to an upload without a session) means the request got past every access rule."""
    if from_app and status not in (0, 502, 503, 504):
        return "served"
    if status in (401, 403):
        return "refused"
    if status in REDIRECTS:
        target = urljoin(app_url, location or "")
        return "served" if target.startswith(app_url) else "refused"
    if 200 <= status < 300 or status == 101:
        return "served"
    return "error"


def access_cause(answers: dict) -> tuple:
    """(cause, fix) of the access check from {what: (status, kind)}; None when every part is refused alike."""
    served = [what for what, (dummy, kind) in answers.items() if kind == "served"]
    errors = [what for what, (dummy, kind) in answers.items() if kind == "error"]
    if served and served[:2] == list(answers)[:2]:
        return "open", ("the app answers anyone without credentials: protect its location at the proxy "
                        "(streamlit_ops: the app's auth or allow)")
    if served:
        return "partly_open", (f"{' and '.join(served)} answer without credentials while the rest is refused: put the "
                               "access rule on the app's whole location (the page, <path>_stcore/stream and uploads), "
                               "not on the page alone")
    if errors:
        statuses = {answers[what][0] for what in errors}
        if statuses & {500, 502, 503, 504}:
            return "auth_endpoint", ("the proxy failed while checking access: with forward auth (auth_request) its "
                                     "endpoint is down or unreachable from the proxy: check the auth url and that the "
                                     "endpoint runs; with basic auth its workers cannot read the password file; "
                                     "the proxy's error log says which")
        return "unexpected", "look at what answers these paths: " + ", ".join(f"{w} {answers[w][0]}" for w in errors)
    if len({status for status, dummy in answers.values()}) > 1:
        return "uneven", "the page, the WebSocket and uploads should be refused alike: put one access rule on the whole location"
    return None


def origin_policy(foreign_status: int, flipped_status: int | None) -> str:
    """The policy that the answers to a foreign Origin and to the page's own
    host under the other scheme show."""
    if foreign_status == 101:
        return "any"
    if flipped_status == 101:
        return "same-origin"
    return "allow-list"


def origin_meets(policy: str, expected: str | None) -> bool:
    if not expected:
        return True
    if expected == "guarded":
        return policy != "any"
    return policy == expected


def _from_proxy(body: str, headers: dict) -> bool:
    """A refusal written by a proxy, not by Streamlit. A proxy in front
    rewrites Server, so the body tells: Streamlit refuses with plain text or
    nothing (uvicorn), or with Tornado's "<title>404: Not Found</title>" page
    (Streamlit before its Starlette server); Nginx and load balancers with an
    HTML error page of their own. Without a proxy, Server names Streamlit's."""
    if headers.get("server", "").lower().startswith(("uvicorn", "tornado")):
        return False
    return "<html" in body.lower() and not re.search(r"<title>\d{3}: ", body)


def is_streamlit_page(body: str) -> bool:
    return "<title>Streamlit</title>" in body or ('id="root"' in body and "static/js/" in body)


def main_bundle(body: str) -> str:
    """The src of the page's main JavaScript bundle, relative to the page."""
    scripts = re.findall(r"<script[^>]*\ssrc=\"([^\"]+\.js)\"", body)
    for src in scripts:
        if "/index" in src or src.startswith("./static/js/"):
            return src
    return scripts[0] if scripts else ""


def downgrades(body: str) -> list:
    """Absolute http:// URLs in the page's src and href attributes."""
    return re.findall(r"(?:src|href)=\"(http://[^\"]+)\"", body)


# -- intermediaries -----------------------------------------------------------------
INTERMEDIARIES = (
    # (name, test on (lower-case headers, cookie names), what to know)
    ("Cloudflare", lambda h, c: "cf-ray" in h or h.get("server", "").lower() == "cloudflare",
     "idle WebSockets close after 100 s: keep server.websocketPingInterval below 100; WebSockets must be on in the zone's Network settings"),
    ("Amazon CloudFront", lambda h, c: "x-amz-cf-id" in h or "cloudfront" in h.get("via", "").lower(),
     "origin response timeout 30 s by default: keep server.websocketPingInterval below it; forward Sec-WebSocket-* headers (origin request policy)"),
    ("AWS Application Load Balancer", lambda h, c: bool({"AWSALB", "AWSALBCORS"} & c) or h.get("server", "").lower().startswith("awselb"),
     "idle timeout 60 s by default (idle_timeout.timeout_seconds): keep server.websocketPingInterval below it; "
     "uploads need target-group stickiness or the proxy's sticky cookie"),
    ("AWS Classic Load Balancer", lambda h, c: "AWSELB" in c,
     "idle timeout 60 s by default: keep server.websocketPingInterval below it; use TCP/SSL listeners or an ALB for WebSockets"),
    ("Google Cloud Load Balancer", lambda h, c: "google" in h.get("via", "").lower() or "GCLB" in c,
     "backend service timeout 30 s by default also ends WebSockets: raise timeoutSec above the longest session"),
    ("Azure Front Door or Application Gateway", lambda h, c: "x-azure-ref" in h or "ApplicationGatewayAffinity" in c,
     "Front Door idle timeout 240 s at most, Application Gateway request timeout 20 s by default: keep server.websocketPingInterval below them"),
    ("Fastly", lambda h, c: "x-served-by" in h and "cache-" in h.get("x-served-by", ""),
     "WebSockets need Fastly's WebSockets feature and a pass for <path>_stcore/stream"),
    ("Envoy", lambda h, c: "envoy" in h.get("server", "").lower() or "x-envoy-upstream-service-time" in h,
     "route timeout 15 s by default applies until the upgrade; set the route's upgrade_configs for websocket and idle_timeout above the ping interval"),
    ("Akamai", lambda h, c: h.get("server", "").lower().startswith("akamai") or any(k.startswith("x-akamai") for k in h),
     "WebSockets must be enabled for the property; idle connections close after 120 s by default: keep server.websocketPingInterval below it"),
    ("Varnish", lambda h, c: "x-varnish" in h or "varnish" in h.get("via", "").lower(),
     "Varnish does not proxy WebSockets by itself: return (pipe) for requests with Upgrade: websocket in vcl_recv"),
    ("Nginx", lambda h, c: h.get("server", "").lower().startswith("nginx"),
     "proxy_read_timeout 60 s by default: keep it above server.websocketPingInterval (nginx_proxy derives it)"),
)


# The fix for a cause in the words of the proxy in front, when its Server
# header names Caddy or Apache; the fixes above are Nginx's (and this
# collection's variables). {path} is the app's path.
PROXY_FIXES = {
    "caddy": {
        "no_upgrade": "Caddy's reverse_proxy passes WebSockets by itself: a CDN or load balancer between drops Upgrade; turn its WebSocket support on",
        "bad_upgrade": "Caddy's reverse_proxy passes WebSockets by itself: a CDN or load balancer between breaks the upgrade; turn its WebSocket support on",
        "prefix_stripped": ("Caddy strips the prefix {path} (handle_path or uri strip_prefix) but Streamlit serves under "
                            "server.baseUrlPath={base}: use handle instead of handle_path, or set server.baseUrlPath to ''"),
        "streamlit_origin": ("Streamlit refused the page's Origin: with server.enableCORS=true it compares Origin with the Host it "
                             "receives; remove header_up Host from reverse_proxy, or list the origin in server.corsAllowedOrigins, "
                             "or set server.enableCORS=false"),
        "proxy_body_limit": "Caddy refuses the body: request_body {{ max_size ... }} above server.maxUploadSize",
        "no_sticky": "route each browser to one replica: lb_policy cookie in Caddy's reverse_proxy",
        "uncompressed": "compress JavaScript and CSS: encode zstd gzip in Caddy's site block",
        "no_slash_redirect": "redirect the path without its slash: redir {bare} {path} in Caddy's site block",
        "downgrade": ("Caddy sets X-Forwarded-Proto itself; behind a TLS load balancer give it trusted_proxies so the "
                      "balancer's https is kept, and make redirects relative"),
    },
    "apache": {
        "no_upgrade": "Apache: ProxyPass {path} http://backend{path} upgrade=websocket (mod_proxy_http, or mod_proxy_wstunnel for <path>_stcore/stream)",
        "bad_upgrade": "Apache: ProxyPass {path} http://backend{path} upgrade=websocket, and ProxyPreserveHost On",
        "prefix_stripped": ("Apache strips the prefix {path} (ProxyPass {path} http://backend/) but Streamlit serves under "
                            "server.baseUrlPath={base}: ProxyPass {path} http://backend{path}, or set server.baseUrlPath to ''"),
        "streamlit_origin": ("Streamlit refused the page's Origin: with server.enableCORS=true it compares Origin with the Host it "
                             "receives; ProxyPreserveHost On, or list the origin in server.corsAllowedOrigins, or set "
                             "server.enableCORS=false"),
        "proxy_body_limit": "Apache refuses the body: LimitRequestBody above server.maxUploadSize (0 for no limit)",
        "no_sticky": "route each browser to one replica: a balancer with stickysession=ROUTEID and a route per BalancerMember",
        "uncompressed": "compress JavaScript and CSS: mod_deflate, AddOutputFilterByType DEFLATE application/javascript text/css",
        "no_slash_redirect": "redirect the path without its slash: RedirectMatch ^{bare}$ {path}",
        "downgrade": "tell the app its scheme: RequestHeader set X-Forwarded-Proto https, and make redirects relative",
    },
}


def front_proxy(server: str) -> str:
    """'caddy', 'apache' or '' (Nginx, a CDN, unknown) from a Server header."""
    server = server.lower()
    if server.startswith("caddy"):
        return "caddy"
    if server.startswith("apache"):
        return "apache"
    return ""


def intermediaries(responses: list, set_cookies: list) -> list:
    """(name, evidence, what to know) of each intermediary the answers reveal."""
    found = []
    cookie_names = {raw.split("=", 1)[0].strip() for raw in set_cookies}
    for name, test, know in INTERMEDIARIES:
        for response in responses:
            if test(response.headers, cookie_names):
                shown = [f"{key}: {response.headers[key]}" for key in ("server", "via", "cf-ray", "x-amz-cf-id", "x-served-by", "x-azure-ref")
                         if key in response.headers]
                shown += sorted(f"cookie {cookie}" for cookie in cookie_names & {"AWSALB", "AWSALBCORS", "AWSELB", "GCLB", "ApplicationGatewayAffinity"})
                found.append((name, ", ".join(shown), know))
                break
    # A proxy none of the above knows may still say it is there.
    named = {entry[0] for entry in found}
    vias = sorted({r.headers["via"] for r in responses if "via" in r.headers})
    if vias and not named & {"Amazon CloudFront", "Google Cloud Load Balancer", "Varnish"}:
        found.append(("a proxy in between", "via: " + ", ".join(vias),
                      "it must pass WebSocket upgrades and keep idle ones longer than server.websocketPingInterval"))
    return found


# -- the doctor ------------------------------------------------------------------------
class Doctor:
    def __init__(self, url: str, checks=DEFAULT_CHECKS, connect_address: str | None = None, origin: str | None = None,
                 validate_certs: bool = True, ca_path: str | None = None, allow_self_signed: bool = False,
                 upload_mb: float | None = None, sticky_sessions: int = 8, idle_s: int = 120,
                 expect_origin: str | None = None, headers: dict | None = None, timeout: float = 10):
        parts = urlsplit(url)
        self.path = parts.path if parts.path.endswith("/") else (parts.path or "") + "/"
        self.target = Target(url, connect_address, timeout, validate_certs, ca_path, allow_self_signed)
        self.app_url = f"{self.target.origin}{self.path}"
        self.checks = [name for name in CHECKS if name in checks]
        self.origin = origin or self.target.origin
        self.upload_mb = upload_mb
        self.sticky_sessions = sticky_sessions
        self.idle_s = idle_s
        self.expect_origin = expect_origin
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.results: dict = {}
        self.tls: dict = {}
        self.browsers: list = []
        self.page_body = ""
        self.locations: list = []  # (what, absolute Location) of every redirect seen
        self.session = None

    # helpers
    def browser(self) -> Browser:
        browser = Browser(self.target, self.headers)
        self.browsers.append(browser)
        return browser

    def new_session(self) -> Session:
        session = Session(self.target, self.app_url, self.origin, self.headers)
        self.browsers.append(session.browser)
        return session

    def wanted(self, name: str) -> bool:
        return name in self.checks

    def failed(self, name: str) -> bool:
        return self.results.get(name, {}).get("result") == "fail"

    # the run
    def run(self) -> dict:
        try:
            tls = self.target.resolve_tls()
        except ssl.SSLCertVerificationError as exc:
            self_signed = exc.verify_code == SELF_SIGNED_LEAF
            kind = "SELF-SIGNED" if self_signed else "not trusted"
            return self._stop("tls", f"TLS certificate {kind} ({exc.verify_message})",
                              "give the CA that signed it with doctor_ca_path, or set doctor_validate_certs: false"
                              if not self_signed else
                              "a self-signed certificate: give it with doctor_ca_path, or set doctor_validate_certs: false "
                              "(browsers will warn users; use a certificate from a CA they trust)")
        except TLSFailure as exc:
            if "WRONG_VERSION_NUMBER" in str(exc):
                return self._stop("tls_handshake", str(exc), f"port {self.target.port} answers plain HTTP, not TLS: "
                                  "use an http:// URL, or the server's TLS port")
            return self._stop("tls_handshake", str(exc),
                              f"the server's TLS setup failed for {self.target.hostname}: check that it has a certificate "
                              "and TLS settings for this name (SNI), and that the port speaks TLS; a CDN: the hostname "
                              "must be set up there")
        except WireError as exc:
            return self._stop("unreachable", str(exc), "check the URL, DNS, the port and firewalls")
        self.tls = tls
        steps = (("access", self.check_access), ("page", self.check_page), ("health", self.check_health), ("websocket", self.check_websocket),
                 ("origin", self.check_origin), ("upload", self.check_upload), ("sticky", self.check_sticky),
                 ("compression", self.check_compression), ("scheme", self.check_scheme), ("idle", self.check_idle))
        try:
            for name, step in steps:
                # health and websocket also feed later checks, so they run
                # when those are wanted.
                if self.wanted(name) or (name in FEEDERS and any(c not in ("access", "intermediaries") for c in self.checks)):
                    try:
                        self.results[name] = step()
                    except WireError as exc:
                        if name == "page":
                            cause, fix = status_cause(0, str(exc))
                            return self._stop(cause, str(exc), fix)
                        cause, fix = status_cause(0, str(exc))
                        self.results[name] = result("fail", str(exc), fix, cause)
        finally:
            if self.session is not None:
                self.session.close()
        if self.wanted("intermediaries"):
            self.results["intermediaries"] = self.check_intermediaries()
        self._attribute()
        self._in_the_proxys_words()
        return {name: self.results[name] for name in CHECKS if name in self.results and self.wanted(name)}

    def _stop(self, cause: str, evidence: str, fix: str) -> dict:
        """The run when no connection to the server works: the first check
        fails with the cause, the others need a connection."""
        first = self.checks[0] if self.checks else "page"
        out = {first: result("fail", evidence, fix, cause)}
        for name in self.checks[1:]:
            out[name] = skipped(f"needs a connection to the server (see {first})")
        self.results = out
        return out

    def _in_the_proxys_words(self) -> None:
        """Name the setting of the proxy in front when it says which one it is."""
        # A proxy passes Streamlit's own Server header on; the answers it
        # writes itself (redirects, errors) carry its name.
        fronts = [front_proxy(r.header("server")) for b in self.browsers for r in b.responses]
        front = next((name for name in fronts if name), "")
        for entry in self.results.values():
            fix = PROXY_FIXES.get(front, {}).get(entry.get("cause", ""))
            if entry.get("result") == "fail" and fix:
                entry["fix"] = fix.format(path=self.path, bare=self.path[:-1], base=self.path.strip("/"))

    def _attribute(self) -> None:
        """Hand symptoms to the check that found their cause."""
        health = self.results.get("health", {})
        if health.get("cause") in ("prefix_stripped", "base_path"):
            # Without its route Streamlit answers 404, and 403 to an upgrade.
            for name in ("page", "websocket"):
                entry = self.results.get(name, {})
                if entry.get("result") != "fail" or entry.get("cause") not in (
                        "not_found", "not_streamlit", "unexpected", "streamlit_origin", "proxy_origin"):
                    continue
                if self.wanted("health"):
                    self.results[name] = skipped(f"{entry['evidence']}: caused by the path (see health)")
                else:
                    self.results[name] = result("fail", f"{entry['evidence']}, because {health['evidence']}",
                                                health["fix"], health["cause"])
        # An answer that is not the check's own (a 502, a 401...) is the
        # cause of the first check that got it; the later ones point there.
        first = {}
        for name in self.checks:
            entry = self.results.get(name, {})
            cause = entry.get("cause")
            if entry.get("result") != "fail" or cause not in GENERIC_CAUSES:
                continue
            if cause in first:
                self.results[name] = skipped(f"{entry['evidence']}: the same cause as {first[cause]}")
            else:
                first[cause] = name

    # access
    def check_access(self) -> dict:
        """The page, the WebSocket upgrade and an upload, each from a client without the doctor's headers
        and cookies: an app behind access control refuses all three alike."""
        anonymous = Browser(self.target)
        self.browsers.append(anonymous)
        page = anonymous.get(self.app_url)
        shake = handshake(self.target, self.path + "_stcore/stream", self.origin, "", ("streamlit",))
        upload = anonymous.upload(self.app_url, "doctor", SMALL_UPLOAD, self.origin)
        answers = {}
        upload_from_app = upload.status != 0 and not _from_proxy(upload.text, upload.headers) and upload.status not in (401, 407)
        for what, status, location, from_app in (("the page", page.status, page.location, False),
                                                 ("_stcore/stream", shake.status, shake.headers.get("location", ""), False),
                                                 ("uploads", upload.status, upload.location, upload_from_app)):
            answers[what] = (status, access_answer(status, location, self.app_url, from_app))
        shown = ", ".join(f"{what} {status}" for what, (status, dummy) in answers.items())
        where = urljoin(self.app_url, page.location) if page.status in REDIRECTS else ""
        verdict = access_cause(answers)
        if verdict is None:
            return passed(f"without credentials: {shown}" + (f" (to {where})" if where else ""),
                          answers={what: status for what, (status, dummy) in answers.items()})
        cause, fix = verdict
        return result("fail", f"without credentials: {shown}", fix, cause)

    # page
    def check_page(self) -> dict:
        browser = self.browser()
        chain = browser.follow(self.app_url)
        for response in chain[:-1]:
            self.locations.append(("page", urljoin(response.url, response.location)))
        last = chain[-1]
        hops = " → ".join(str(r.status) for r in chain)
        if last.status in REDIRECTS:
            self.locations.append(("page", urljoin(last.url, last.location)))
            return result("fail", f"{self.path} redirects to {last.location} ({hops})",
                          "the app's URL must answer itself, not redirect elsewhere: check the proxy's rewrite/return rules "
                          "(a sign-in redirect needs credentials: doctor_headers)", "redirected")
        if last.status != 200:
            cause, fix = status_cause(last.status)
            return result("fail", f"{self.path} answered {hops}", fix, cause)
        if not is_streamlit_page(last.text):
            return result("fail", f"{self.path} answered 200 but not with Streamlit's page ({len(last.body)} bytes)",
                          "another page answers this path (a default site, a login page, a catch-all): route the path to Streamlit",
                          "not_streamlit")
        self.page_body = last.text
        evidence = f"200 with Streamlit's page ({len(last.body)} bytes)"
        if self.path == "/":
            return passed(evidence + "; root path, no slash redirect to check")
        bare = self.app_url[:-1]
        answer = browser.get(bare)
        if answer.status not in REDIRECTS or not answer.location:
            return result("fail", f"{evidence}; {self.path[:-1]} answered {answer.status}, not a redirect to {self.path}",
                          f"redirect {self.path[:-1]} to {self.path} (Nginx: location {self.path} with proxy_pass does it, "
                          f"or location = {self.path[:-1]} {{ return 301 {self.path}; }}; Caddy: redir {self.path[:-1]} {self.path})",
                          "no_slash_redirect")
        target = urljoin(bare, answer.location)
        self.locations.append((f"{self.path[:-1]}", target))
        parts = urlsplit(target)
        if parts.path != self.path:
            return result("fail", f"{evidence}; {self.path[:-1]} redirects to {answer.location}, not to {self.path}",
                          f"redirect {self.path[:-1]} to {self.path} with a relative Location (Nginx: absolute_redirect off)",
                          "wrong_redirect")
        if parts.hostname != self.target.hostname:
            return result("fail", f"{evidence}; {self.path[:-1]} redirects to another host: {answer.location}",
                          "send a relative Location (Nginx: absolute_redirect off; Streamlit behind a proxy: "
                          "proxy_set_header Host $host)", "wrong_host_redirect")
        # The Location's scheme is the scheme check's.
        return passed(f"{evidence}; {self.path[:-1]} → {answer.status} {answer.location}")

    # health
    def check_health(self) -> dict:
        browser = self.browser()
        answer = browser.get(self.app_url + "_stcore/health")
        body = answer.text.strip()
        if answer.status == 200 and body == "ok":
            return passed(f"{self.path}_stcore/health answered ok")
        doubled_ok = False
        if self.path != "/" and answer.status in (404, 200):
            doubled = browser.get(self.app_url + self.path.lstrip("/") + "_stcore/health")
            doubled_ok = doubled.status == 200 and doubled.text.strip() == "ok"
        cause, fix = health_cause(self.path, answer.status, body, doubled_ok, _from_proxy(answer.text, answer.headers))
        seen = f"{answer.status} {body[:40]!r}" if answer.status == 200 else str(answer.status)
        evidence = f"{self.path}_stcore/health answered {seen}"
        if doubled_ok:
            evidence += f"; {self.path}{self.path.lstrip('/')}_stcore/health answered ok"
        return result("fail", evidence, fix, cause)

    # websocket
    def check_websocket(self) -> dict:
        session = self.new_session()
        self.session = session
        session.load()
        shake = session.connect()
        if not shake.upgraded:
            cause, fix = websocket_cause(shake.status, shake.upgraded, shake.error,
                                         shake.body.decode("utf-8", "replace"), self.origin, shake.headers)
            seen = shake.error if shake.status == 0 else f"answered {shake.status}"
            return result("fail", f"upgrade of {session.stream_path} with Origin {self.origin} {seen}", fix, cause,
                          status=shake.status)
        if not session.run_script(max(self.timeout, 20)):
            return result("fail", f"101 in {shake.seconds:.2f} s, but the script run got {session.error}",
                          "the WebSocket opens but its frames do not flow: a proxy in between buffers or cuts the "
                          "upgraded connection (Nginx: proxy_buffering has no effect on WebSockets; check a load "
                          "balancer or CDN in front), or the app's script fails (its logs)", "no_session", status=101)
        kinds = session.messages
        return passed(f"101 in {shake.seconds:.2f} s with Origin {self.origin}; a rerun got new_session, "
                      f"{kinds.count('delta')} deltas, script {session.finished}", status=101)

    def _session_ok(self) -> bool:
        return self.results.get("websocket", {}).get("result") == "pass"

    # origin
    def check_origin(self) -> dict:
        if not self._session_ok():
            return skipped("needs a working WebSocket (see websocket)")
        cookie, headers = self.session.browser.cookie_header(), self.session.browser.headers
        foreign = handshake(self.target, self.session.stream_path, FOREIGN_ORIGIN, cookie, ("streamlit",), headers)
        flipped = None
        flipped_origin = ("http" if self.target.tls else "https") + "://" + self.target.netloc
        if foreign.status != 101:
            flipped = handshake(self.target, self.session.stream_path, flipped_origin, cookie, ("streamlit",), headers)
        policy = origin_policy(foreign.status, flipped.status if flipped else None)
        foreign_seen = foreign.error if foreign.status == 0 else str(foreign.status)
        evidence = f"policy {policy}: Origin {FOREIGN_ORIGIN} got {foreign_seen}"
        if flipped is not None:
            evidence += f", Origin {flipped_origin} got {flipped.error if flipped.status == 0 else flipped.status}"
        if origin_meets(policy, self.expect_origin):
            return passed(evidence, policy=policy)
        if policy == "any":
            fix = ("refuse WebSockets from other origins: streamlit_ops origin_policy same-origin or strict; "
                   "or Streamlit server.enableCORS=true with server.corsAllowedOrigins")
        else:
            fix = (f"the policy seen is {policy}, {self.expect_origin} was expected: "
                   "set the app's origin_policy (streamlit_ops) or the proxy's Origin rule accordingly")
        return result("fail", evidence + f"; expected {self.expect_origin}", fix, "origin_policy", policy=policy)

    # upload
    def check_upload(self) -> dict:
        if not self._session_ok():
            return skipped("needs a Streamlit session (see websocket)")
        size = int(self.upload_mb * MIB) if self.upload_mb else SMALL_UPLOAD
        size_mb = size / MIB
        shown = f"{size_mb:g} MB" if self.upload_mb else f"{size // 1024} KB"
        misses = 0
        session = self.session
        for attempt in range(UPLOAD_TRIES):
            if attempt:
                session = self.new_session()
                session.load()
                session.connect()
                ok = session.run_script(max(self.timeout, 20), until="session")
                if not ok:
                    session.close()
                    continue
            started = time.monotonic()
            try:
                answer = session.upload(size)
            except WireError as exc:
                cause, fix = upload_cause(0, "", {}, size_mb)
                return result("fail", f"upload of {shown}: {exc}", fix, cause)
            finally:
                if session is not self.session:
                    session.close()
            seconds = time.monotonic() - started
            if 200 <= answer.status < 300:
                note = f" after {misses} upload(s) reached a replica without their session (see sticky)" if misses else ""
                return passed(f"upload of {shown} answered {answer.status} in {seconds:.1f} s{note}")
            cause, fix = upload_cause(answer.status, answer.text, answer.headers, size_mb)
            if cause == "no_sticky" and self.wanted("sticky"):
                misses += 1
                continue
            return result("fail", f"upload of {shown} answered {answer.status} {answer.text[:80]!r}", fix, cause,
                          status=answer.status)
        return skipped(f"{misses} of {UPLOAD_TRIES} uploads of {shown} reached a replica without their session: "
                       "that is routing (see sticky)")

    # sticky
    def _sticky_session(self) -> tuple:
        """One fresh session and its small upload: ("ok", ""), ("miss", "") when the
        upload reached a replica without the session, or ("other", what failed)."""
        session = self.new_session()
        try:
            session.load()
            session.connect()
            if not session.run_script(max(self.timeout, 20), until="session"):
                return "other", f"session: {session.error or session.handshake.status}"
            answer = session.upload(SMALL_UPLOAD)
            if 200 <= answer.status < 300:
                return "ok", ""
            if upload_cause(answer.status, answer.text, answer.headers, SMALL_UPLOAD / MIB)[0] == "no_sticky":
                return "miss", ""
            return "other", f"upload {answer.status}"
        except WireError as exc:
            return "other", str(exc)
        finally:
            session.close()

    def check_sticky(self) -> dict:
        if not self._session_ok():
            return skipped("needs a Streamlit session (see websocket)")
        # Each fresh session is a browser of its own, so they may run side by side.
        with ThreadPoolExecutor(min(self.sticky_sessions, STICKY_AT_ONCE)) as pool:
            outcomes = list(pool.map(lambda dummy: self._sticky_session(), range(self.sticky_sessions)))
        misses = sum(1 for kind, dummy in outcomes if kind == "miss")
        other = [text for kind, text in outcomes if kind == "other"]
        total = self.sticky_sessions
        if misses:
            fix = upload_cause(400, "Invalid session_id", {}, 0)[1]
            return result("fail", f"{misses} of {total} fresh sessions' uploads reached a replica without their session",
                          fix, "no_sticky", misses=misses, sessions=total)
        if other and self.failed("upload"):
            return skipped(f"{len(other)} of {total} fresh sessions' small uploads failed too (see upload)")
        if other:
            return result("fail", f"{len(other)} of {total} fresh sessions failed before routing could be judged: "
                          f"{'; '.join(sorted(set(other))[:3])}",
                          "the sessions themselves fail: see websocket and upload", "sessions_failed")
        return passed(f"{total} of {total} fresh sessions' uploads reached their own replica", sessions=total)

    # compression
    def check_compression(self) -> dict:
        if not self.page_body:
            return skipped("needs Streamlit's page (see page)")
        src = main_bundle(self.page_body)
        if not src:
            return skipped("the page names no JavaScript bundle")
        url = urljoin(self.app_url, src)
        if urlsplit(url).netloc != self.target.netloc:
            return skipped(f"the bundle is served from elsewhere: {url}")
        answer = self.browser().get(url, headers={"Accept-Encoding": BROWSER_ACCEPT_ENCODING})
        encoding = answer.header("content-encoding").lower()
        name = src.rsplit("/", 1)[-1]
        if answer.status != 200:
            cause, fix = status_cause(answer.status)
            return result("fail", f"{name} answered {answer.status}", fix, cause)
        if encoding in COMPRESSED:
            return passed(f"{name}: {encoding}, {len(answer.body) // 1024} KB on the wire", encoding=encoding)
        return result("fail", f"{name}: {len(answer.body) // 1024} KB sent uncompressed to a browser that accepts "
                      f"{BROWSER_ACCEPT_ENCODING}",
                      "compress JavaScript and CSS: Nginx gzip on; gzip_types application/javascript text/css; "
                      "gzip_proxied any (streamlit_ops: nginx_proxy_gzip); Caddy: encode zstd gzip; "
                      "a CDN: turn compression on", "uncompressed")

    # scheme
    def check_scheme(self) -> dict:
        if not self.target.tls:
            return skipped("plain HTTP: nothing to downgrade (no TLS)")
        hsts = ""
        for browser in self.browsers:
            for response in browser.responses:
                hsts = hsts or response.header("strict-transport-security")
        hsts_note = f"HSTS {hsts}" if hsts else "no HSTS header"
        downgraded = [f"{what} → {location}" for what, location in self.locations if location.startswith("http://")]
        assets = downgrades(self.page_body)
        if downgraded or assets:
            shown = "; ".join(downgraded + [f"asset {url}" for url in assets[:3]])
            return result("fail", f"over HTTPS, {shown}; {hsts_note}",
                          "make redirects keep https: a relative Location (Nginx: absolute_redirect off), or tell the "
                          "app its scheme (proxy_set_header X-Forwarded-Proto $scheme; a proxy behind a TLS load "
                          "balancer passes that one's X-Forwarded-Proto); Nginx return/rewrite rules with https://",
                          "downgrade")
        return passed(f"no redirect or asset to http:// ({len(self.locations)} redirect(s) seen); {hsts_note}",
                      hsts=hsts)

    # idle
    def check_idle(self) -> dict:
        if not self._session_ok():
            return skipped("needs a working WebSocket (see websocket)")
        session = self.new_session()
        try:
            session.load()
            session.connect()
            if not session.run_script(max(self.timeout, 20), until="session"):
                return skipped(f"a fresh session did not start ({session.error})")
            ended = session.idle(self.idle_s)
            pings = session.ws.pings if session.ws else 0
            if ended:
                return result("fail", f"the WebSocket {ended} ({pings} ping(s) from Streamlit before)",
                              f"an idle timeout between the browser and Streamlit is shorter than {self.idle_s} s and "
                              "Streamlit's pings do not come often enough to reset it: set server.websocketPingInterval "
                              "below the shortest idle timeout (streamlit_ops: ping_interval), or raise that timeout "
                              "(Nginx proxy_read_timeout, ALB 60 s, Cloudflare 100 s)", "idle_timeout")
            if not session.run_script(max(self.timeout, 20), until="message"):
                return result("fail", f"the WebSocket stayed open {self.idle_s} s, then a rerun got {session.error}",
                              "something in between stops passing frames on an idle connection: raise its idle "
                              "timeout, or lower server.websocketPingInterval", "idle_stalled")
            return passed(f"survived {self.idle_s} s idle ({pings} ping(s) answered), then a rerun was answered")
        finally:
            session.close()

    # intermediaries
    def check_intermediaries(self) -> dict:
        responses = [response for browser in self.browsers for response in browser.responses]
        set_cookies = [raw for browser in self.browsers for raw in browser.set_cookies]
        found = intermediaries(responses, set_cookies)
        if not found:
            servers = sorted({r.header("server") for r in responses if r.header("server")})
            return passed(f"none identified itself (Server: {', '.join(servers) or 'none'})", found=[])
        evidence = "; ".join(f"{name} ({seen}): {know}" for name, seen, know in found)
        return passed(evidence, found=[entry[0] for entry in found])


def table(results: dict) -> list:
    """The report as aligned lines: check, result, evidence, fix."""
    rows = [("CHECK", "RESULT", "EVIDENCE", "FIX")]
    rows += [(name, entry["result"].upper() if entry["result"] == "fail" else entry["result"], entry["evidence"],
              entry["fix"] or "-") for name, entry in results.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    evidence_width = min(max(len(row[2]) for row in rows), 70)
    return [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{evidence_width}}  {row[3]}".rstrip() for row in rows]

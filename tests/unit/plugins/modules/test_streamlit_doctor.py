"""The doctor's module and module_utils alone (standard library only, as
ansible-test units runs them): every answer maps to its cause and fix, the
options are checked, a self-signed certificate is named.

Against a real Streamlit and through the playbook: tests/unit/test_doctor_live.py.
The broken proxies (one per cause): tests/e2e/ha/test_doctor.py."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from ansible_collections.streamlit_ops.deploy.plugins.module_utils import streamlit_doctor as doctor
from ansible_collections.streamlit_ops.deploy.plugins.module_utils import streamlit_wire as wire
from ansible_collections.streamlit_ops.deploy.plugins.modules import streamlit_doctor as module

# Every cause a failing check can report (the PROXY_FIXES keys must be among them).
CAUSES_WITH_A_CHECK = (
    "no_upgrade", "bad_upgrade", "http10", "streamlit_origin", "proxy_origin", "fake_upgrade", "stalled", "prefix_stripped",
    "base_path", "proxy_body_limit", "streamlit_upload_limit", "xsrf", "no_sticky", "upload_reset", "uncompressed",
    "no_slash_redirect", "wrong_redirect", "wrong_host_redirect", "downgrade", "idle_timeout", "idle_stalled",
)
NGINX_403 = ("<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n"
             "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


# -- answers to causes -------------------------------------------------------------
@pytest.mark.parametrize("status, upgraded, error, body, headers, cause, words", [
    (200, False, "", "", {}, "no_upgrade", ["proxy_http_version 1.1", "proxy_set_header Upgrade", "Connection"]),
    (400, False, "", "", {}, "bad_upgrade", ["proxy_set_header Upgrade", "Host $host"]),
    (426, False, "", "", {}, "http10", ["proxy_http_version 1.1"]),
    (403, False, "", "", {"content-type": "text/plain"}, "streamlit_origin", ["server.enableCORS", "Host $host", "corsAllowedOrigins"]),
    (403, False, "", NGINX_403, {"content-type": "text/html"}, "proxy_origin", ["origin_policy"]),
    # Streamlit before 1.5x (Tornado) writes an HTML page of its own.
    (403, False, "", "<html><title>403: Forbidden</title><body>403: Forbidden</body></html>", {"content-type": "text/html"},
     "streamlit_origin", ["server.enableCORS"]),
    (101, False, "", "", {}, "fake_upgrade", ["101"]),
    (0, False, "no answer to the upgrade (timed out)", "", {}, "stalled", ["WebSocket pass-through", "proxy_http_version 1.1"]),
    (0, False, "cannot connect (refused)", "", {}, "unreachable", ["firewalls"]),
    (502, False, "", "", {}, "backend_down", ["upstream"]),
    (401, False, "", "", {}, "auth", ["doctor_headers"]),
])
def test_websocket_answers_map_to_their_cause(status, upgraded, error, body, headers, cause, words):
    found, fix = doctor.websocket_cause(status, upgraded, error, body, "https://apps.example.com", headers)
    assert found == cause
    for word in words:
        assert word in fix


@pytest.mark.parametrize("status, body, headers, cause, words", [
    (413, "<html><head><title>413 Request Entity Too Large</title>", {"content-type": "text/html"}, "proxy_body_limit",
     ["client_max_body_size", "max_upload_mb"]),
    (413, "File too large", {"content-type": "text/plain"}, "streamlit_upload_limit", ["server.maxUploadSize"]),
    (403, "XSRF token missing or invalid", {}, "xsrf", ["_streamlit_xsrf", "server.cookieSecret"]),
    (400, '{"detail":"Invalid session_id. This is likely caused by a multi-replica deployment"}', {}, "no_sticky",
     ["sticky", "hash on a cookie"]),
    (0, "", {}, "upload_reset", ["client_max_body_size"]),
    (500, "", {}, "server_error", ["error log"]),
])
def test_upload_answers_map_to_their_cause(status, body, headers, cause, words):
    found, fix = doctor.upload_cause(status, body, headers, 2)
    assert found == cause
    for word in words:
        assert word in fix


def test_health_tells_a_stripped_prefix_from_a_wrong_base_path():
    cause, fix = doctor.health_cause("/app/", 404, "", doubled_ok=True)
    assert cause == "prefix_stripped" and "proxy_pass" in fix and "no URI part" in fix
    cause, fix = doctor.health_cause("/app/", 404, "", doubled_ok=False)
    assert cause == "base_path" and "server.baseUrlPath=app" in fix
    # A 404 the proxy wrote (its HTML page): nothing routes the path.
    assert doctor.health_cause("/app/", 404, NGINX_403, doubled_ok=False, from_proxy=True)[0] == "not_found"
    # Anything else is the status's own cause.
    assert doctor.health_cause("/app/", 502, "", doubled_ok=False)[0] == "backend_down"


@pytest.mark.parametrize("foreign, flipped, policy", [
    (101, None, "any"),
    (403, 101, "same-origin"),
    (403, 403, "allow-list"),
    (0, 0, "allow-list"),  # a foreign Origin left hanging is refused too
])
def test_origin_policy_from_the_two_answers(foreign, flipped, policy):
    assert doctor.origin_policy(foreign, flipped) == policy


def test_origin_expectations():
    assert doctor.origin_meets("any", None)
    assert doctor.origin_meets("same-origin", "guarded") and doctor.origin_meets("allow-list", "guarded")
    assert not doctor.origin_meets("any", "guarded")
    assert not doctor.origin_meets("same-origin", "allow-list")


def test_the_fix_speaks_the_front_proxys_language():
    assert doctor.front_proxy("Caddy") == "caddy" and doctor.front_proxy("Apache/2.4.62 (Debian)") == "apache"
    assert doctor.front_proxy("nginx/1.22.1") == "" and doctor.front_proxy("uvicorn") == ""
    for causes in doctor.PROXY_FIXES.values():
        assert set(causes) <= set(CAUSES_WITH_A_CHECK)
        for fix in causes.values():
            fix.format(path="/app/", bare="/app", base="app")  # every placeholder is one the doctor fills


def test_intermediaries_are_named_with_what_to_know():
    def response(headers):
        return wire.Response(200, "OK", list(headers.items()), b"", "https://x/")

    found = doctor.intermediaries([response({"server": "cloudflare", "cf-ray": "8a1b-AMS"})], [])
    assert [entry[0] for entry in found] == ["Cloudflare"] and "100 s" in found[0][2]
    found = doctor.intermediaries([response({"server": "awselb/2.0"})], ["AWSALB=abc; Path=/"])
    assert [entry[0] for entry in found] == ["AWS Application Load Balancer"] and "60 s" in found[0][2]
    found = doctor.intermediaries([response({"via": "1.1 abc.cloudfront.net (CloudFront)", "x-amz-cf-id": "x"})], [])
    assert found[0][0] == "Amazon CloudFront"
    assert doctor.intermediaries([response({"server": "uvicorn"})], []) == []
    # An unknown proxy that says so in Via is reported too.
    found = doctor.intermediaries([response({"server": "uvicorn", "via": "1.1 squid-proxy"})], [])
    assert [entry[0] for entry in found] == ["a proxy in between"] and "squid" in found[0][1]


def test_a_given_cookie_goes_with_the_jars_own():
    browser = wire.Browser(wire.Target("https://apps.example.com/app/"), {"Cookie": "_oauth2_proxy=abc; other=1", "X-Token": "t"})
    assert browser.headers == {"X-Token": "t"}
    browser.cookies["_streamlit_xsrf"] = "2|x"
    assert browser.cookie_header() == "_oauth2_proxy=abc; other=1; _streamlit_xsrf=2|x"


def test_page_helpers():
    page = '<title>Streamlit</title><script type="module" crossorigin src="./static/js/index.AbC.js"></script>'
    assert doctor.is_streamlit_page(page) and not doctor.is_streamlit_page("<title>Welcome to nginx!</title>")
    assert doctor.main_bundle(page) == "./static/js/index.AbC.js"
    assert doctor.downgrades('<link href="http://cdn.example.com/x.css"><img src="https://ok/x.png">') == [
        "http://cdn.example.com/x.css"]


def test_table_lines_up_the_columns():
    lines = doctor.table({"page": doctor.passed("200"), "websocket": doctor.result("fail", "answered 200", "fix it", "no_upgrade")})
    assert lines[0].split() == ["CHECK", "RESULT", "EVIDENCE", "FIX"]
    assert lines[2].startswith("websocket  FAIL    answered 200") and lines[2].endswith("fix it")
    assert lines[1].index("pass") == lines[2].index("FAIL")


# -- the module's options ------------------------------------------------------------
def test_documentation_matches_the_argument_spec():
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    # The TLS options come from the doc fragment both probing modules share.
    from ansible_collections.streamlit_ops.deploy.plugins.doc_fragments.tls_client import ModuleDocFragment
    documented.update(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    assert set(documented) == set(module.ARGUMENT_SPEC)
    for name, spec in module.ARGUMENT_SPEC.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("default") == spec.get("default"), name
        assert documented[name].get("choices") == spec.get("choices"), name


def _params(**changes):
    params = {name: spec.get("default") for name, spec in module.ARGUMENT_SPEC.items()}
    params["url"] = "https://apps.example.com/app/"
    params.update(changes)
    return params


@pytest.mark.parametrize("changes, option, words", [
    ({"url": "ftp://apps.example.com/app/"}, "url", "http(s) URL with a host"),
    ({"url": "https:///app/"}, "url", "http(s) URL with a host"),
    ({"url": "https://apps.example.com/app/?x=1"}, "url", "query or fragment"),
    ({"origin": "https://apps.example.com/app/"}, "origin", "scheme://host[:port]"),
    ({"upload_mb": 0.0}, "upload_mb", "above 0"),
    ({"sticky_sessions": 0}, "sticky_sessions", "between 1 and 200"),
    ({"idle_s": 0}, "idle_s", "between 1 and 3600"),
    ({"timeout": 0}, "timeout", "between 1 and 300"),
])
def test_bad_options_are_named_with_the_fix(changes, option, words):
    assert module.invalid(_params(**changes))[0] == option
    assert words in module.invalid(_params(**changes))[1]
    # Control: the defaults are valid.
    assert module.invalid(_params()) is None


# -- TLS ---------------------------------------------------------------------------------
def test_a_self_signed_certificate_is_reported(make_self_signed):
    import ssl
    import threading

    cert, key = make_self_signed("apps.example.com")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        for dummy in range(4):
            try:
                conn = server.accept()[0]
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
            except (OSError, ssl.SSLError):
                continue

    threading.Thread(target=serve, daemon=True).start()
    try:
        results = doctor.Doctor(f"https://apps.example.com:{port}/app/", connect_address="127.0.0.1", timeout=3).run()
        assert results["page"]["result"] == "fail" and "SELF-SIGNED" in results["page"]["evidence"]
        assert "doctor_ca_path" in results["page"]["fix"] and "doctor_validate_certs" in results["page"]["fix"]
    finally:
        server.close()


# -- access (an app behind auth or allow) -------------------------------------------
APP = "https://apps.example.com/finance/"


@pytest.mark.parametrize("status, location, from_app, kind", [
    (401, "", False, "refused"),
    (403, "", False, "refused"),
    (302, "https://auth.example.com/oauth2/start?rd=https://apps.example.com/finance/", False, "refused"),
    # A redirect within the app (the no-slash redirect, Streamlit's own) lets the client in.
    (301, "/finance/page", False, "served"),
    (200, "", False, "served"),
    (101, "", False, "served"),
    # Streamlit's own 403 to an upload without a session: the request got past every rule.
    (403, "", True, "served"),
    (500, "", False, "error"),
    (0, "", False, "error"),
])
def test_access_answers(status, location, from_app, kind):
    assert doctor.access_answer(status, location, APP, from_app) == kind


@pytest.mark.parametrize("answers, cause, words", [
    ({"the page": (401, "refused"), "_stcore/stream": (401, "refused"), "uploads": (401, "refused")}, None, []),
    ({"the page": (302, "refused"), "_stcore/stream": (302, "refused"), "uploads": (302, "refused")}, None, []),
    ({"the page": (200, "served"), "_stcore/stream": (101, "served"), "uploads": (403, "served")}, "open", ["auth or allow"]),
    # The peers' mistake: basic auth on the page only.
    ({"the page": (401, "refused"), "_stcore/stream": (101, "served"), "uploads": (403, "served")}, "partly_open",
     ["_stcore/stream and uploads", "whole location"]),
    ({"the page": (500, "error"), "_stcore/stream": (500, "error"), "uploads": (500, "error")}, "auth_endpoint", ["auth url"]),
    ({"the page": (401, "refused"), "_stcore/stream": (403, "refused"), "uploads": (401, "refused")}, "uneven", ["alike"]),
])
def test_access_causes(answers, cause, words):
    verdict = doctor.access_cause(answers)
    assert (verdict[0] if verdict else None) == cause
    for word in words:
        assert word in verdict[1]


def test_access_is_opt_in():
    assert "access" in doctor.CHECKS and "access" not in doctor.DEFAULT_CHECKS


class _FakeSession:
    """A fresh session of the sticky check whose upload answers with the status given.
    Every load waits at the barrier, which passes only when enough of them load at once."""

    def __init__(self, status: int, barrier, opened: list):
        self.status, self.barrier, self.closed = status, barrier, False
        self.browser, self.error, self.handshake = wire.Browser(wire.Target("http://127.0.0.1:9/app/")), "", None
        opened.append(self)

    def load(self):
        self.barrier.wait()

    def connect(self):
        return None

    def run_script(self, timeout, until):
        return True

    def upload(self, size):
        body = '{"detail":"Invalid session_id. This is likely caused by a multi-replica deployment"}' if self.status == 400 else ""
        return wire.Response(self.status, "", [], body.encode(), "http://127.0.0.1:9/app/")

    def close(self):
        self.closed = True


@pytest.mark.parametrize("statuses, outcome, evidence", [
    ([200] * 8, "pass", "8 of 8 fresh sessions' uploads reached their own replica"),
    ([200, 400, 200, 200, 200, 400, 200, 200], "fail", "2 of 8 fresh sessions' uploads reached a replica without their session"),
    ([200, 200, 500, 200, 200, 200, 200, 200], "fail", "1 of 8 fresh sessions failed before routing could be judged: upload 500"),
])
def test_sticky_opens_its_sessions_side_by_side_and_counts_each(monkeypatch, statuses, outcome, evidence):
    # Twice STICKY_AT_ONCE sessions, whose loads pass the barrier STICKY_AT_ONCE
    # at a time: sessions opened one after the other break it at the first.
    barrier, opened, left, lock = threading.Barrier(doctor.STICKY_AT_ONCE, timeout=20), [], list(statuses), threading.Lock()
    pools = []

    def new_session():
        with lock:
            return _FakeSession(left.pop(0), barrier, opened)

    def pool(max_workers):
        pools.append(max_workers)
        return ThreadPoolExecutor(max_workers)

    assert len(statuses) == 2 * doctor.STICKY_AT_ONCE
    checker = doctor.Doctor("http://127.0.0.1:9/app/", sticky_sessions=len(statuses))
    checker.results["websocket"] = {"result": "pass"}
    monkeypatch.setattr(checker, "new_session", new_session)
    monkeypatch.setattr(doctor, "ThreadPoolExecutor", pool)
    found = checker.check_sticky()
    assert (found["result"], found["evidence"]) == (outcome, evidence)
    assert len(opened) == len(statuses) and all(session.closed for session in opened)
    # Never more at once than that, however many sessions are asked for.
    assert pools == [doctor.STICKY_AT_ONCE]

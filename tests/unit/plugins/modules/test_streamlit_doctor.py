"""The doctor: every answer maps to its cause and fix; its protobuf matches
Streamlit's own; and a real Streamlit, reached directly, passes while a wrong
path or a dead port fails the check that owns the cause.

The broken proxies (one per cause) are in tests/e2e/ha/test_doctor.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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
APP = Path(__file__).resolve().parents[3] / "images" / "app" / "app.py"
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


# -- Streamlit's protobuf ------------------------------------------------------------
def test_rerun_request_is_streamlits_own():
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = ""
    assert wire.RERUN_SCRIPT == msg.SerializeToString()
    parsed = BackMsg()
    parsed.ParseFromString(wire.RERUN_SCRIPT)
    assert parsed.WhichOneof("type") == "rerun_script"


def test_forward_messages_are_read_as_streamlit_writes_them():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    new = ForwardMsg()
    new.new_session.initialize.session_id = "5f7c-session"
    new.new_session.name = "app"
    new.metadata.delta_path.extend([0, 1])
    assert wire.forward_msg(new.SerializeToString()) == {"kind": "new_session", "session_id": "5f7c-session"}
    delta = ForwardMsg()
    delta.delta.new_element.markdown.body = "Hello"
    assert wire.forward_msg(delta.SerializeToString())["kind"] == "delta"
    for status, name in ((0, "finished"), (1, "compile error"), (2, "stopped early for a rerun")):
        done = ForwardMsg()
        done.script_finished = status
        assert wire.forward_msg(done.SerializeToString()) == {"kind": "script_finished", "status": name}
    with pytest.raises(ValueError):
        list(wire.fields(b"\x0a\x05ab"))  # a field longer than the message


# -- the module's options ------------------------------------------------------------
def test_documentation_matches_the_argument_spec():
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
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


# -- a real Streamlit, reached directly -----------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def streamlit_app():
    """The demo app under /app/ on a free loopback port (at most 60 s to start)."""
    port = _free_port()
    env = dict(os.environ, STREAMLIT_SERVER_HEADLESS="true", STREAMLIT_SERVER_BASE_URL_PATH="app",
               STREAMLIT_SERVER_ADDRESS="127.0.0.1", STREAMLIT_SERVER_PORT=str(port),
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", STREAMLIT_SERVER_FILE_WATCHER_TYPE="none")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=APP.parent)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "Streamlit did not start"
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/app/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_streamlit_itself_passes_the_checks_that_need_no_proxy(streamlit_app):
    results = doctor.Doctor(streamlit_app, sticky_sessions=2, upload_mb=1).run()
    outcomes = {name: entry["result"] for name, entry in results.items()}
    for name in ("page", "health", "websocket", "origin", "upload", "sticky", "intermediaries"):
        assert outcomes[name] == "pass", results[name]
    assert outcomes["scheme"] == "skip"  # plain HTTP
    assert "script finished" in results["websocket"]["evidence"]
    # Streamlit's default server.enableCORS=true compares Origin with Host:
    # reported, not judged...
    assert results["origin"]["details"]["policy"] == "same-origin"
    # ...unless a policy is expected: met, and (the control) not met.
    guarded = doctor.Doctor(streamlit_app, checks=["websocket", "origin"], expect_origin="guarded").run()
    assert guarded["origin"]["result"] == "pass", guarded["origin"]
    anyone = doctor.Doctor(streamlit_app, checks=["websocket", "origin"], expect_origin="any").run()
    assert anyone["origin"]["result"] == "fail" and "same-origin" in anyone["origin"]["fix"]


def test_a_wrong_path_fails_health_only(streamlit_app):
    """Control for the above: the same app under a path it does not serve."""
    results = doctor.Doctor(streamlit_app.replace("/app/", "/other/")).run()
    assert {name for name, entry in results.items() if entry["result"] == "fail"} == {"health"}, results
    assert results["health"]["cause"] == "base_path" and "server.baseUrlPath=other" in results["health"]["fix"]
    assert "see health" in results["page"]["evidence"]


def test_a_chosen_check_keeps_its_own_failure(streamlit_app):
    """The checks that only feed the chosen ones never take a failure's blame away."""
    results = doctor.Doctor(streamlit_app.replace("/app/", "/other/"), checks=["websocket"]).run()
    assert list(results) == ["websocket"] and results["websocket"]["result"] == "fail", results
    # ...and names the cause the unchosen health check found.
    assert results["websocket"]["cause"] == "base_path" and "server.baseUrlPath=other" in results["websocket"]["fix"]


def test_nothing_listening_fails_page_and_skips_the_rest():
    results = doctor.Doctor(f"http://127.0.0.1:{_free_port()}/app/", timeout=2).run()
    assert results["page"]["result"] == "fail" and results["page"]["cause"] == "unreachable"
    assert {entry["result"] for name, entry in results.items() if name != "page"} == {"skip"}


def test_https_to_a_plain_http_port_says_so(streamlit_app):
    results = doctor.Doctor(streamlit_app.replace("http://", "https://"), checks=["page", "health"]).run()
    assert results["page"]["cause"] == "tls_handshake" and "answers plain HTTP" in results["page"]["fix"], results
    assert results["health"]["result"] == "skip"


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


# -- the doctor playbook, as a user runs it from a checkout ---------------------------
def _doctor_playbook(*args: str) -> tuple[int, str]:
    root = Path(__file__).resolve().parents[4]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    result = subprocess.run(["ansible-playbook", "doctor.yml", *args], cwd=root, capture_output=True, text=True,
                            timeout=300, env=env, check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("args, words", [
    ((), "doctor_url is not set: run with -e doctor_url=https://"),
    (("-e", "doctor_url=ftp://apps.example.com/app/"), "doctor_url: url 'ftp://apps.example.com/app/' is not an http(s) URL"),
    (("-e", "doctor_url=http://127.0.0.1:9/app/", "-e", "doctor_upload_mb=lots"), "doctor_upload_mb"),
    (("-e", "doctor_url=http://127.0.0.1:9/app/", "-e", '{"doctor_checks": ["pages"]}'), "doctor_checks must be one or more of"),
    (("-e", "doctor_url=http://127.0.0.1:9/app/", "-e", "doctor_sticky_sessions=0"), "doctor_sticky_sessions: sticky_sessions 0 must be between 1 and 200"),
])
def test_the_playbook_names_a_bad_variable(args, words):
    rc, out = _doctor_playbook(*args)
    assert rc != 0 and words in out, out[-2000:]
    # Nothing was probed: the probe task never ran with a bad value.
    assert "CHECK" not in out


def test_the_installed_collection_runs_it_by_name(streamlit_app, tmp_path):
    """ansible-playbook streamlit_ops.deploy.doctor, from anywhere, with the collection on its path."""
    root = Path(__file__).resolve().parents[4]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(root / "collections"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    result = subprocess.run(["ansible-playbook", "streamlit_ops.deploy.doctor", "-e", f"doctor_url={streamlit_app}",
                             "-e", '{"doctor_checks": ["page", "health"]}'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0 and "health" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_playbook_prints_the_table_and_writes_the_report(streamlit_app, tmp_path):
    report = tmp_path / "report.json"
    rc, out = _doctor_playbook("-e", f"doctor_url={streamlit_app}", "-e", f"doctor_report={report}",
                               "-e", '{"doctor_checks": ["page", "health", "websocket", "upload"]}')
    assert rc == 0, out[-3000:]
    assert "CHECK" in out and "websocket" in out
    data = json.loads(report.read_text())
    assert list(data) == ["page", "health", "websocket", "upload"]
    assert {entry["result"] for entry in data.values()} == {"pass"}
    # Control: a check that fails fails the run, after the report is written.
    report.unlink()
    rc, out = _doctor_playbook("-e", f"doctor_url={streamlit_app.replace('/app/', '/other/')}", "-e", f"doctor_report={report}")
    assert rc != 0 and "health: Streamlit does not serve /other/" in out, out[-3000:]
    assert json.loads(report.read_text())["health"]["result"] == "fail"

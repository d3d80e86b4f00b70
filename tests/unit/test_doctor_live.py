"""The doctor against a real Streamlit (the demo app, on loopback) and as a
user runs it (the doctor playbook from the checkout and by its installed
name), and its protobuf against Streamlit's own classes. Needs .venv's
streamlit and ansible-playbook, so it lives outside tests/unit/plugins, which
ansible-test units also runs in an environment of its own.

The broken proxies (one per cause): tests/e2e/ha/test_doctor.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.module_utils import streamlit_doctor as doctor
from ansible_collections.streamlit_ops.deploy.plugins.module_utils import streamlit_wire as wire

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "images" / "app" / "app.py"


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


# -- the doctor playbook, as a user runs it from a checkout ---------------------------
def _doctor_playbook(*args: str) -> tuple[int, str]:
    root = ROOT
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
    root = ROOT
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

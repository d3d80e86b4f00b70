"""container_health and the engine client it uses: an exec's exit code and output are read right from the
engine's answers, the wait stops at each container's first pass and at the deadline, and a failing container
comes back with its last check and its logs."""

from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
import sys

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.module_utils import docker_engine
from ansible_collections.streamlit_ops.deploy.plugins.modules import container_health

# As imported: a checkout's collections/ link or ansible-test's copy of the collection.
MODULE = pathlib.Path(container_health.__file__)
COLLECTIONS_ROOT = MODULE.parents[5]


def frame(stream: int, text: str) -> bytes:
    data = text.encode()
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(data)) + data


def test_demux_joins_stdout_and_stderr_frames_in_order():
    assert docker_engine.demux(frame(1, "out\n") + frame(2, "err\n") + frame(1, "more")) == "out\nerr\nmore"
    # Control: a stream without frame headers (a TTY) is text as it is.
    assert docker_engine.demux(b"plain text\n") == "plain text\n"


def exec_answers(code, running=(False,), output=b""):
    return {
        "/containers/streamlit-demo/exec": (201, '{"Id": "e1"}'),
        "/exec/e1/start": (200, output),
        "/exec/e1/json": [(200, json.dumps({"Running": r, "ExitCode": None if r else code})) for r in running],
    }


def test_exec_run_creates_starts_and_inspects_the_exec(tmp_path, fake_engine):
    sock = tmp_path / "docker.sock"
    engine = fake_engine(sock, exec_answers(7, running=(True, True, False), output=frame(1, "out\n") + frame(2, "err\n")))
    assert docker_engine.exec_run(str(sock), "streamlit-demo", ["sh", "-c", "exit 7"], 5) == (7, "out\nerr\n")
    lines = [line.rsplit(" ", 1)[0] for line in engine.requested]
    assert lines == ["POST /containers/streamlit-demo/exec", "POST /exec/e1/start"] + ["GET /exec/e1/json"] * 3
    created = json.loads(engine.bodies[0])
    assert created["Cmd"] == ["sh", "-c", "exit 7"] and created["AttachStdout"] and created["AttachStderr"]
    assert json.loads(engine.bodies[1]) == {"Detach": False, "Tty": False}


def test_exec_run_in_a_stopped_container_gives_the_engines_reason(tmp_path, fake_engine):
    sock = tmp_path / "docker.sock"
    fake_engine(sock, {"/containers/": (409, '{"message": "Container abc is not running"}')})
    assert docker_engine.exec_run(str(sock), "streamlit-demo", ["true"], 5) == (None, "Container abc is not running")
    # Control: the same container running passes.
    fake_engine(tmp_path / "up.sock", exec_answers(0))
    assert docker_engine.exec_run(str(tmp_path / "up.sock"), "streamlit-demo", ["true"], 5) == (0, "")


class Clock:
    """A clock that moves only when the wait sleeps or a check runs (0.1 s each)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def scripted(monkeypatch, clock, answers):
    """Each container's checks answer in turn from answers[container] (the last repeats)."""
    calls = []

    def exec_run(socket_path, container, argv, timeout):
        calls.append(container)
        clock.now += 0.1
        given = answers[container]
        return given.pop(0) if len(given) > 1 else given[0]
    monkeypatch.setattr(container_health, "exec_run", exec_run)
    return calls


CHECKS = [{"container": "streamlit-a", "argv": ["probe"]}, {"container": "streamlit-b", "argv": ["probe"]}]


def test_the_wait_stops_checking_each_container_at_its_first_pass(monkeypatch):
    clock = Clock()
    calls = scripted(monkeypatch, clock, {"streamlit-a": [(1, "starting"), (0, "")],
                                          "streamlit-b": [(None, "not running"), (1, "x"), (1, "x"), (0, "")]})
    healthy, failing, probes = container_health.wait(CHECKS, 30, 0.5, "sock", clock=clock, sleep=clock.sleep)
    assert healthy == ["streamlit-a", "streamlit-b"] and failing == {}
    assert calls == ["streamlit-a", "streamlit-b", "streamlit-a", "streamlit-b", "streamlit-b", "streamlit-b"]
    assert probes == 6 and clock.now < 3


def test_a_container_that_never_passes_fails_at_the_deadline_with_its_last_check(monkeypatch):
    clock = Clock()
    calls = scripted(monkeypatch, clock, {"streamlit-a": [(0, "")], "streamlit-b": [(1, "health answered: <html>")]})
    healthy, failing, probes = container_health.wait(CHECKS, 5, 0.5, "sock", clock=clock, sleep=clock.sleep)
    assert healthy == ["streamlit-a"] and failing == {"streamlit-b": (1, "health answered: <html>")}
    # Checked until the deadline, not beyond it, about once an interval.
    assert 5 <= clock.now < 6 and 8 <= calls.count("streamlit-b") <= 10
    # Control: a deadline of 0 still checks each container once.
    clock = Clock()
    scripted(monkeypatch, clock, {"streamlit-a": [(0, "")], "streamlit-b": [(0, "")]})
    assert container_health.wait(CHECKS, 0, 0.5, "sock", clock=clock, sleep=clock.sleep) == (["streamlit-a", "streamlit-b"], {}, 2)


def test_an_engine_that_does_not_answer_is_the_reason(monkeypatch, tmp_path):
    healthy, failing, dummy = container_health.wait(CHECKS[:1], 0, 0.5, str(tmp_path / "absent.sock"))
    assert healthy == [] and failing["streamlit-a"][0] is None
    assert f"the Docker engine at {tmp_path / 'absent.sock'}" in failing["streamlit-a"][1]


def run_module(tmp_path, **params):
    argfile = tmp_path / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    # The collection beside whatever the test runner has on the path (ansible-test puts ansible there).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(COLLECTIONS_ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, str(MODULE), str(argfile)], capture_output=True, text=True, timeout=60, check=False, env=env)
    return json.loads(out.stdout)


@pytest.mark.parametrize("code", [0, 1])
def test_the_module_fails_with_the_last_check_and_the_logs_of_a_container_that_does_not_pass(tmp_path, fake_engine, code):
    sock = tmp_path / "docker.sock"
    answers = exec_answers(code, output=frame(2, "health answered: <html>\n") if code else b"")
    answers["/containers/streamlit-demo/logs"] = (200, frame(1, "Uvicorn running\n") + frame(2, "Traceback: boom\n"))
    fake_engine(sock, answers)
    result = run_module(tmp_path, checks=[{"container": "streamlit-demo", "argv": ["probe"]}], timeout=0, docker_socket=str(sock))
    assert result["changed"] is False
    if code == 0:
        # Control: the container that passes is healthy, with no logs read.
        assert not result.get("failed") and result["healthy"] == ["streamlit-demo"] and result["unhealthy"] == []
        return
    assert result["failed"] and result["msg"] == "streamlit-demo did not pass its check within 0 s"
    assert result["unhealthy"] == [{"container": "streamlit-demo", "rc": 1, "output": "health answered: <html>\n",
                                    "logs": "Uvicorn running\nTraceback: boom\n"}]


def test_the_module_refuses_a_negative_timeout(tmp_path):
    result = run_module(tmp_path, checks=[], timeout=-1)
    assert result["failed"] and "timeout must be 0 or more" in result["msg"]

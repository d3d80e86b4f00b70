# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The nginx_reload module against a real Nginx on loopback: a reload whose new
listener cannot bind (the port taken by another process, which `nginx -t` does
not see) is reported as failed with Nginx's own error; the same reload with
the port free passes (the control)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from ansible_collections.streamlit_ops.deploy.plugins.modules import nginx_reload
from ansible_collections.streamlit_ops.deploy.plugins.modules.nginx_reload import children, master_pid, reload


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _new_port(tmp_path: Path) -> int:
    """A free port other than the one the running Nginx listens on: the kernel
    may hand out the same free port twice, and a reload that keeps its port
    binds nothing new."""
    current = (tmp_path / "nginx.conf").read_text()
    for dummy in range(20):
        port = _free_port()
        if f":{port};" not in current:
            return port
    raise AssertionError("no second free port")


def _conf(tmp_path: Path, port: int) -> None:
    temp = "".join(f"    {kind}_temp_path {tmp_path / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"user root;\nworker_processes 2;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n{temp}    access_log off;\n    server {{ listen 127.0.0.1:{port}; return 200; }}\n}}\n"
    )


@pytest.fixture
def nginx(tmp_path):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.skip("needs nginx (apt-get install nginx)")
    _conf(tmp_path, _free_port())
    argv = [binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")]
    subprocess.run(argv, check=True, timeout=30)
    pid_file = tmp_path / "nginx.pid"
    for dummy in range(50):
        pid = master_pid(str(pid_file))
        if pid and len(children(pid)) == 2:
            break
        time.sleep(0.1)
    try:
        yield tmp_path
    finally:
        subprocess.run([*argv, "-s", "stop"], check=False, timeout=30)


def test_reload_that_cannot_bind_fails_with_nginxs_error(nginx):
    port = _new_port(nginx)
    _conf(nginx, port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        took, workers, errors = reload(str(nginx / "nginx.pid"), str(nginx / "error.log"), 15)
    assert (took, workers) == (False, [])
    assert any(f"bind() to 127.0.0.1:{port} failed (98: Address already in use)" in line for line in errors), errors
    # The control: the same configuration, the port free, is taken.
    took, workers, errors = reload(str(nginx / "nginx.pid"), str(nginx / "error.log"), 15)
    assert took and len(workers) >= 2 and errors == [], errors
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_no_running_nginx_means_nothing_to_reload(tmp_path):
    assert master_pid(str(tmp_path / "nginx.pid")) is None


class _JustStarted:
    """A master signalled before it forked its first workers: they appear on
    the second look, and the SIGHUP starts none (the reload failed)."""

    def __init__(self, signalled_workers):
        self.looks = 0
        self.signalled = False
        self.signalled_workers = signalled_workers

    def children(self, pid):
        self.looks += 1
        if self.signalled:
            return {11, 12} | self.signalled_workers
        return set() if self.looks == 1 else {11, 12}

    def kill(self, pid, sig):
        self.signalled = True


@pytest.mark.parametrize("signalled_workers, took", [(set(), False), ({21, 22}, True)])
def test_first_workers_of_a_just_started_master_are_not_taken_for_the_reloads(tmp_path, monkeypatch, signalled_workers, took):
    (tmp_path / "nginx.pid").write_text(f"{os.getpid()}\n")
    master = _JustStarted(signalled_workers)
    monkeypatch.setattr(nginx_reload, "children", master.children)
    monkeypatch.setattr(nginx_reload.os, "kill", lambda pid, sig: master.kill(pid, sig) if sig else None)
    result = reload(str(tmp_path / "nginx.pid"), str(tmp_path / "error.log"), 1)
    # The control is the second case: workers the signal did start are taken.
    assert result == (took, sorted(signalled_workers), [])
    assert master.looks >= 3

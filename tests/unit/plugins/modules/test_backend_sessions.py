"""backend_sessions against real sockets of this host: the count it reads
from /proc/net/tcp{,6} is the open connections to a backend, and only those,
and the live config's server lines read as in rotation or drained."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.modules import backend_sessions


def _listener(family=socket.AF_INET, host="127.0.0.1"):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(16)
    return srv


def _count(backends):
    wanted = {backend_sessions._parse_backend(b): b for b in backends}
    return backend_sessions.count_established(wanted)


def test_counts_open_connections_and_nothing_else():
    srv, other = _listener(), _listener()
    port, other_port = srv.getsockname()[1], other.getsockname()[1]
    name = f"127.0.0.1:{port}"
    clients = [socket.create_connection(("127.0.0.1", port)) for dummy in range(3)]
    accepted = [srv.accept()[0] for dummy in clients]
    # Control: a connection to another port is not counted for this backend.
    stray = socket.create_connection(("127.0.0.1", other_port))
    try:
        assert _count([name]) == {name: 3}
        for client in clients:
            client.close()
        for conn in accepted:
            conn.close()
        # Closed (FIN_WAIT/TIME_WAIT on either side) is not established.
        assert _count([name]) == {name: 0}
        assert _count([f"127.0.0.1:{other_port}"]) == {f"127.0.0.1:{other_port}": 1}
    finally:
        stray.close()
        srv.close()
        other.close()


def test_ipv6_backend_in_brackets():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        srv = _listener(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no ::1")
    port = srv.getsockname()[1]
    client = socket.create_connection(("::1", port))
    try:
        assert _count([f"[::1]:{port}"]) == {f"[::1]:{port}": 1}
    finally:
        client.close()
        srv.close()


def test_config_reads_rotation(tmp_path):
    conf = tmp_path / "up.conf"
    conf.write_text(
        "upstream a {\n    server 10.0.0.11:8501 max_fails=1 fail_timeout=10s;\n"
        "    server 10.0.0.12:8501 max_fails=1 fail_timeout=10s down;\n}\n")
    state = backend_sessions.read_config(str(conf), ["10.0.0.11:8501", "10.0.0.12:8501", "10.0.0.13:8501"])
    assert state == {
        "10.0.0.11:8501": {"listed": True, "down": False},
        "10.0.0.12:8501": {"listed": True, "down": True},
        "10.0.0.13:8501": {"listed": False, "down": False},
    }

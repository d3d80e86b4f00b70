"""The e2e Streamlit client resends, once, a request whose kept-alive
connection the server closed without answering, as browsers do (Nginx's old
workers close their idle connections on every reload), and nothing else: a
fresh connection's failure, a second failure and a timeout stay failures.
A loopback server answers or drops each request as its plan says."""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e" / "ha"))

from stclient import StreamlitClient  # noqa: E402

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


class PlannedServer(socketserver.ThreadingTCPServer):
    """Request n (counted over all connections) gets plan[n]: 'ok', 'drop'
    (read, then closed unanswered) or 'hang'; past the plan, 'ok'."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, plan):
        self.plan, self.seen, self.connections = list(plan), 0, 0
        self.lock, self.release = threading.Lock(), threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        with server.lock:
            server.connections += 1
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = self.request.recv(4096)
                if not chunk:
                    return
                buf += chunk
            buf = buf.split(b"\r\n\r\n", 1)[1]
            with server.lock:
                action = server.plan[server.seen] if server.seen < len(server.plan) else "ok"
                server.seen += 1
            if action == "drop":
                self.request.shutdown(socket.SHUT_RDWR)
                return
            if action == "hang":
                server.release.wait(10)
                return
            self.request.sendall(OK)


@pytest.fixture
def serve():
    servers = []

    def start(plan):
        server = PlannedServer(plan)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/app/"
    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def test_health_dropped_on_the_kept_alive_connection_is_resent_once(serve):
    server, url = serve(["ok", "drop"])
    client = StreamlitClient(url, timeout=5)
    client.load()
    client.close()
    assert (client.result.page, client.result.health, client.result.resent) == (200, 200, 1)
    assert (server.seen, server.connections) == (3, 2), "the resend goes on a new connection"


def test_control_a_plain_get_there_fails(serve):
    """The same drop reaches a client that does not resend: the server's drop is real."""
    server, url = serve(["ok", "drop"])
    http = requests.Session()
    http.trust_env = False
    assert http.get(url, timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        http.get(url + "_stcore/health", timeout=5)
    http.close()


def test_no_drop_no_resend(serve):
    server, url = serve([])
    client = StreamlitClient(url, timeout=5)
    client.load()
    client.close()
    assert (client.result.health, client.result.resent, server.connections) == (200, 0, 1)


@pytest.mark.parametrize("plan, error, resent, seen", [
    pytest.param(["drop"], requests.ConnectionError, 0, 1, id="the page on a fresh connection"),
    pytest.param(["ok", "drop", "drop"], requests.ConnectionError, 1, 3, id="a second drop"),
    pytest.param(["ok", "hang"], requests.Timeout, 0, 2, id="a timeout"),
])
def test_what_is_not_resent_fails(serve, plan, error, resent, seen):
    server, url = serve(plan)
    client = StreamlitClient(url, timeout=0.5)
    with pytest.raises(error):
        client.load()
    client.close()
    assert (client.result.resent, server.seen) == (resent, seen)

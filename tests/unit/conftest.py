import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The checkout resolves as the collection through collections/ (see ansible.cfg).
sys.path.insert(0, str(ROOT / "collections"))


@pytest.fixture(scope="session")
def make_self_signed(tmp_path_factory):
    """make_self_signed(name, ips=()) -> (cert, key): a self-signed PEM pair for name."""
    def make(name: str, ips: tuple[str, ...] = ()) -> tuple[pathlib.Path, pathlib.Path]:
        tmp = tmp_path_factory.mktemp("tls")
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        names = ",".join([f"DNS:{name}"] + [f"IP:{ip}" for ip in ips])
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )
        return cert, key
    return make


class FakeEngine:
    """A Docker engine on a Unix socket, one connection per request, in a bounded loop. Each request gets
    answers[longest matching path prefix]: (status, body) or a list of them given in turn (the last one
    repeats); a bytes body is sent as it is. It records each request line and body."""

    def __init__(self, path, answers, most=40):
        import socket
        import threading
        self.requested, self.bodies = [], []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(4)
        self.server.settimeout(5)

        def answer_for(target):
            prefixes = sorted((k for k in answers if target.startswith(k)), key=len, reverse=True)
            if not prefixes:
                return 404, '{"message": "page not found"}'
            given = answers[prefixes[0]]
            if isinstance(given, list):
                return given.pop(0) if len(given) > 1 else given[0]
            return given

        def read_request(connection):
            """The request's head and its whole body (Content-Length), however the client split its sends."""
            data = b""
            for dummy in range(100):
                if b"\r\n\r\n" in data:
                    head, dummy, body = data.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    if len(body) >= length:
                        return head, body
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, dummy, body = data.partition(b"\r\n\r\n")
            return head, body

        def serve():
            for dummy in range(most):
                try:
                    connection, dummy = self.server.accept()
                except OSError:
                    return
                with connection:
                    head, body = read_request(connection)
                    line = head.decode().split("\r\n", 1)[0]
                    self.requested.append(line)
                    self.bodies.append(body.decode(errors="replace"))
                    status, reply = answer_for(line.split(" ")[1])
                    reply = reply if isinstance(reply, bytes) else reply.encode()
                    connection.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(reply)}\r\n"
                                       f"Connection: close\r\n\r\n".encode() + reply)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self):
        import socket
        try:
            # Wakes the accept at once (Linux), rather than at its timeout.
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        self.thread.join(5)


@pytest.fixture
def fake_engine():
    """fake_engine(socket path, answers) -> FakeEngine, closed after the test."""
    started = []

    def start(path, answers, most=40):
        started.append(FakeEngine(path, answers, most))
        return started[-1]
    yield start
    for engine in started:
        engine.close()

"""websocket_probe against small local servers: a real upgrade, and each way a
proxy can get it wrong."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.modules.websocket_probe import expected_accept, probe


def _answer(behaviour: str, head: str) -> bytes:
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
    if behaviour == "upgrade":
        accept = expected_accept(headers["Sec-WebSocket-Key"])
    elif behaviour == "wrong-accept":
        accept = expected_accept("not the key")
    else:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    return f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n".encode()


class Server:
    """Answers one handshake per connection as told, and records the request heads."""

    def __init__(self, behaviour: str, context: ssl.SSLContext | None = None):
        self.behaviour, self.context, self.heads = behaviour, context, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for _attempt in range(16):
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    peer = self.context.wrap_socket(conn, server_side=True) if self.context else conn
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = peer.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    head = data.decode()
                    if not head:
                        # A client that only looked at the certificate.
                        continue
                    self.heads.append(head)
                    peer.sendall(_answer(self.behaviour, head))
                except (OSError, ssl.SSLError):
                    continue

    def close(self):
        self.sock.close()


@pytest.fixture
def server(request):
    srv = Server(request.param)
    yield srv
    srv.close()


@pytest.mark.parametrize("server", ["upgrade"], indirect=True)
def test_real_upgrade_passes_and_sends_origin(server):
    status, headers, upgraded, self_signed = probe(f"http://apps.example.com:{server.port}/app/_stcore/stream",
                                                   connect_address="127.0.0.1", origin="https://apps.example.com")
    assert (status, upgraded, self_signed) == (101, True, False)
    assert headers["upgrade"] == "websocket"
    head = server.heads[0]
    assert head.startswith("GET /app/_stcore/stream HTTP/1.1\r\n")
    assert f"Host: apps.example.com:{server.port}\r\n" in head
    assert "Origin: https://apps.example.com\r\n" in head
    assert "Connection: Upgrade\r\n" in head


@pytest.mark.parametrize("server", ["wrong-accept"], indirect=True)
def test_101_with_a_wrong_accept_is_not_an_upgrade(server):
    status, _headers, upgraded, _self_signed = probe(f"http://127.0.0.1:{server.port}/app/_stcore/stream")
    assert (status, upgraded) == (101, False)


@pytest.mark.parametrize("server", ["plain"], indirect=True)
def test_a_plain_answer_is_reported_as_is(server):
    # What Streamlit's stream path answers through a proxy that drops Upgrade.
    status, _headers, upgraded, _self_signed = probe(f"http://127.0.0.1:{server.port}/app/_stcore/stream")
    assert (status, upgraded) == (200, False)


def test_no_listener_raises_connection_error():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        probe(f"http://127.0.0.1:{port}/app/_stcore/stream", timeout=2)


@pytest.fixture(scope="module")
def self_signed(make_self_signed):
    cert, key = make_self_signed("apps.example.com")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    srv = Server("upgrade", context)
    yield srv, cert
    srv.close()


def test_tls_self_signed_needs_trust(self_signed):
    srv, cert = self_signed
    url = f"wss://apps.example.com:{srv.port}/app/_stcore/stream"
    with pytest.raises(ssl.SSLCertVerificationError):
        probe(url, connect_address="127.0.0.1")
    assert probe(url, connect_address="127.0.0.1", ca_path=str(cert))[2:] == (True, False)
    assert probe(url, connect_address="127.0.0.1", validate_certs=False)[2:] == (True, False)


def test_tls_self_signed_is_pinned_and_reported(self_signed):
    srv, _cert = self_signed
    url = f"wss://apps.example.com:{srv.port}/app/_stcore/stream"
    status, _headers, upgraded, self_signed_seen = probe(url, connect_address="127.0.0.1", allow_self_signed=True)
    assert (status, upgraded, self_signed_seen) == (101, True, True)
    # The TLS server name is the URL's host, not the address connected to.
    assert srv.heads[-1].startswith("GET /app/_stcore/stream HTTP/1.1\r\n")
    assert f"Host: apps.example.com:{srv.port}\r\n" in srv.heads[-1]
    # Pinning still checks the name: the same certificate for another name fails.
    with pytest.raises(ssl.SSLCertVerificationError, match="other.example.com"):
        probe(f"wss://other.example.com:{srv.port}/app/_stcore/stream", connect_address="127.0.0.1", allow_self_signed=True)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory):
    """A server whose certificate a private CA signed: not self-signed."""
    tmp = tmp_path_factory.mktemp("ca")

    def run(*args):
        subprocess.run(args, check=True, capture_output=True, timeout=60)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
        "-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.pem"))
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=apps.example.com",
        "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "req.csr"))
    (tmp / "ext").write_text("subjectAltName=DNS:apps.example.com\n")
    run("openssl", "x509", "-req", "-in", str(tmp / "req.csr"), "-CA", str(tmp / "ca.pem"), "-CAkey", str(tmp / "ca.key"),
        "-CAcreateserial", "-days", "2", "-extfile", str(tmp / "ext"), "-out", str(tmp / "cert.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    srv = Server("upgrade", context)
    yield srv, tmp / "ca.pem"
    srv.close()


def test_tls_unknown_ca_is_not_taken_for_self_signed(private_ca):
    srv, ca = private_ca
    url = f"wss://apps.example.com:{srv.port}/app/_stcore/stream"
    with pytest.raises(ssl.SSLCertVerificationError) as raised:
        probe(url, connect_address="127.0.0.1", allow_self_signed=True)
    assert raised.value.verify_code != 18
    assert probe(url, connect_address="127.0.0.1", ca_path=str(ca), allow_self_signed=True)[2:] == (True, False)


def test_documentation_matches_the_argument_spec():
    import yaml

    from ansible_collections.streamlit_ops.deploy.plugins.modules import websocket_probe

    documented = yaml.safe_load(websocket_probe.DOCUMENTATION)["options"]
    # The TLS options come from the doc fragment both probing modules share.
    from ansible_collections.streamlit_ops.deploy.plugins.doc_fragments.tls_client import ModuleDocFragment
    documented.update(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    assert set(documented) == set(websocket_probe.ARGUMENT_SPEC)
    for name, spec in websocket_probe.ARGUMENT_SPEC.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("default") == spec.get("default"), name
        assert bool(documented[name].get("required")) == bool(spec.get("required")), name

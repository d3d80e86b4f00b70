"""A raw WebSocket upgrade through the master, checked down to
Sec-WebSocket-Accept so that a 101 is Streamlit's own: the origin guard's
checks and the reload faults' handshake use it."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl

FOREIGN = "https://evil.example.test"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def expected_accept(key: str) -> str:
    """RFC 6455's Sec-WebSocket-Accept for a key."""
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def upgrade(master_address: str, server_name: str, cafile: str, path: str, host: str, origin: str | None) -> int:
    """Nginx's answer to a WebSocket upgrade of path sent with this Host and Origin; 101 only with a correct accept."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((master_address, 443), timeout=15) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as conn:
            lines = [f"GET {path}_stcore/stream HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
                     f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13"]
            lines += [f"Origin: {origin}"] if origin is not None else []
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if status == 101:
        accept = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-accept:")]
        assert accept == [expected_accept(KEY).encode()], head
    return status

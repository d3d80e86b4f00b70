# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The Docker engine's HTTP API over its Unix socket, with the standard library only: the modules that
use it (host_info, container_health) need no Docker SDK on the host."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import time
from urllib.parse import quote

# What an exec's multiplexed output keeps at most (its tail).
OUTPUT_LIMIT = 4096


class UnixConnection(http.client.HTTPConnection):
    """HTTP over the engine's Unix socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(connection, method, url, body=None):
    """(status, raw body) of the engine's answer; a JSON body when body is given."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, url, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def get_json(connection, url):
    """The engine's JSON answer to GET url; None unless it answers 200."""
    status, body = request(connection, "GET", url)
    return json.loads(body) if status == 200 else None


def demux(raw):
    """The text of a non-TTY stream (exec output, logs): frames of an 8-byte header (stream, size) and the
    payload; stdout and stderr interleaved as they came. A stream without frame headers is returned as is."""
    out, at = [], 0
    while at + 8 <= len(raw) and raw[at] in (0, 1, 2) and raw[at + 1:at + 4] == b"\0\0\0":
        size = struct.unpack(">I", raw[at + 4:at + 8])[0]
        out.append(raw[at + 8:at + 8 + size])
        at += 8 + size
    text = b"".join(out) + raw[at:]
    return text.decode("utf-8", errors="replace")


def _message(body):
    try:
        return str(json.loads(body).get("message", "")) or body.decode(errors="replace")
    except (ValueError, AttributeError):
        return body.decode(errors="replace")


def exec_run(socket_path, container, argv, timeout):
    """Run argv in the running container, as `docker exec` does, and wait for it: (exit code, output).
    The exit code is None when it did not run (the engine's reason is the output), or did not end within
    timeout seconds."""
    connection = UnixConnection(socket_path, timeout)
    try:
        status, body = request(connection, "POST", f"/containers/{quote(container, safe='')}/exec",
                               {"AttachStdout": True, "AttachStderr": True, "Tty": False, "Cmd": list(argv)})
        if status != 201:
            return None, _message(body)
        exec_id = quote(str(json.loads(body).get("Id", "")), safe="")
    finally:
        connection.close()
    # The engine streams the output on this connection and closes it when argv ends.
    connection = UnixConnection(socket_path, timeout)
    try:
        status, raw = request(connection, "POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False})
        output = demux(raw)[-OUTPUT_LIMIT:]
        if status != 200:
            return None, _message(raw)
        # The stream has ended; the exit code follows within moments.
        for dummy in range(50):
            inspected = get_json(connection, f"/exec/{exec_id}/json") or {}
            if not inspected.get("Running", False):
                return inspected.get("ExitCode"), output
            time.sleep(0.02)
        return None, output
    finally:
        connection.close()


def logs(socket_path, container, tail, timeout):
    """The last tail lines of the container's output (stdout and stderr); the engine's reason when it has none."""
    connection = UnixConnection(socket_path, timeout)
    try:
        status, raw = request(connection, "GET", f"/containers/{quote(container, safe='')}/logs?stdout=1&stderr=1&tail={int(tail)}")
        return demux(raw) if status == 200 else _message(raw)
    finally:
        connection.close()

#!/usr/bin/env python
"""A light WebSocket backend for the concurrent-session ramp (bench/ramp.py).

Standard library only: the bench copies it to children, which have python3
but no pip, and starts one in the background on each of several children, so
that no backend process comes near its own open-file limit (the master's
upstream lists them all, sessions spread round-robin). Every request is
upgraded (RFC 6455 handshake) and held: pings are answered with pongs, data
frames are echoed, a close is answered with a close. ``GET /stats`` (no
Upgrade) answers, as JSON, the sessions open and the most seen at once, the
accept failures (e.g. EMFILE), this process's open files and their limit, so
the ramp can see how many sessions reached the backend and that the backend
was not what bounded them. It raises its soft open-file limit to the hard one
and stops by itself after --max-seconds.

    python3 wsbackend.py --port 9100 --pidfile /run/bench-wsbackend.pid
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import resource
import signal
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16384
MAX_PAYLOAD = 1 << 20

stats = {"open": 0, "peak": 0, "accepted": 0, "refused": 0, "accept_errors": 0}


def _raise_nofile() -> int:
    """Raise the soft open-file limit to the hard one (allowed without privileges)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _stats() -> dict:
    return dict(stats, fds=len(os.listdir("/proc/self/fd")), nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, dummy, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    opcode = first & 0x0F
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    if length > MAX_PAYLOAD:
        raise ValueError("frame too large")
    mask = await reader.readexactly(4) if second & 0x80 else b""
    payload = await reader.readexactly(length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def _frame(opcode: int, payload: bytes = b"") -> bytes:
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return head + payload


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        request, headers = _headers(head[:MAX_HEAD])
        key = headers.get("sec-websocket-key")
        if "websocket" not in headers.get("upgrade", "").lower() or not key:
            body = (json.dumps(_stats()) if " /stats" in request else "ok") + "\n"
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n{body}".encode())
            await writer.drain()
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        await writer.drain()
        stats["accepted"] += 1
        stats["open"] += 1
        stats["peak"] = max(stats["peak"], stats["open"])
        try:
            while True:
                opcode, payload = await _read_frame(reader)
                if opcode == 0x9:
                    writer.write(_frame(0xA, payload))
                elif opcode == 0x8:
                    writer.write(_frame(0x8, payload[:2]))
                    await writer.drain()
                    return
                elif opcode in (0x1, 0x2):
                    writer.write(_frame(opcode, payload))
                await writer.drain()
        finally:
            stats["open"] -= 1
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def _on_loop_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    # asyncio reports a failed accept() (EMFILE, ENFILE, ENOBUFS) here and
    # pauses accepting for a second; count it so the ramp sees the backend
    # was a bound.
    if "accept" in context.get("message", ""):
        stats["accept_errors"] += 1
    loop.default_exception_handler(context)


async def main(host: str, port: int, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_on_loop_error)
    server = await asyncio.start_server(_session, host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        try:
            await asyncio.wait_for(stop.wait(), max_seconds)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--pidfile")
    parser.add_argument("--max-seconds", type=float, default=3600, help="stop by itself after this long")
    args = parser.parse_args()
    _raise_nofile()
    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
    try:
        asyncio.run(main(args.host, args.port, args.max_seconds))
    finally:
        if args.pidfile and os.path.exists(args.pidfile):
            os.unlink(args.pidfile)

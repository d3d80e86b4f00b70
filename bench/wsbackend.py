#!/usr/bin/env python
"""A light WebSocket backend for the concurrent-session ramp (bench/ramp.py).

Standard library only: the bench copies it to a child, which has python3 but
no pip, and starts it in the background. Every request is upgraded (RFC 6455
handshake) and held: pings are answered with pongs, data frames are echoed,
a close is answered with a close. ``GET /stats`` (no Upgrade) answers the
number of open sessions and the most seen at once, as JSON, so the ramp can
see how many sessions reached the backend. It stops by itself after
--max-seconds.

    python3 wsbackend.py --port 9100 --pidfile /run/bench-wsbackend.pid
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16384
MAX_PAYLOAD = 1 << 20

stats = {"open": 0, "peak": 0, "accepted": 0, "refused": 0}


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
            body = (json.dumps(stats) if " /stats" in request else "ok") + "\n"
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


async def main(host: str, port: int, max_seconds: float) -> None:
    server = await asyncio.start_server(_session, host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
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
    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
    try:
        asyncio.run(main(args.host, args.port, args.max_seconds))
    finally:
        if args.pidfile and os.path.exists(args.pidfile):
            os.unlink(args.pidfile)

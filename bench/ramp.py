"""Concurrent sessions held by the master: idle WebSocket sessions ramped to the ceiling.

Three proxies on the master, each ramped the same way in the same run: ours
(the real nginx_proxy role, port 80), a stock Debian Nginx (port 8090) and
Caddy (bench/caddy.py, port 8081).

1. The light backend: bench/wsbackend.py (standard library only) on several
   children, one process each on port 9100, enough that none holds more than
   BACKEND_SESSIONS sessions at the top (far below its own 20,000 open files).
   Every proxy lists them all: ours and the stock Nginx through the role's
   ``wsecho`` upstream (sticky none: round-robin), Caddy through a
   ``reverse_proxy /wsecho/*`` with ``lb_policy cookie`` added to its
   plain-HTTP site for the ramp.
2. Ours is configured for the ceiling through the role itself
   (fl.configure_master with nginx_proxy_* extra vars): worker_rlimit_nofile
   and worker_connections both at the hard open-file limit of the running
   Nginx master, so every file a worker may open can hold a connection and
   the file limit, not a connection slot, is what runs out; reuseport, so the
   kernel spreads the sessions evenly over the workers and they fill
   together; nginx_proxy_expected_sessions at the most the role's validation
   accepts with those (workers x (hard - 1024) / 2).
3. What each proxy's file limit allows, read before its ramp on the master:
   for each process that holds sessions (an Nginx worker, Caddy) its soft
   open-file limit (/proc/PID/limits) minus the files it has open already
   (/proc/PID/fd), halved (a proxied session is two connections in one
   process), and for Nginx at most worker_connections / 2; summed over the
   processes.
4. A ramp: client processes on the controller (at most CLIENT_SESSIONS each,
   far below their own 20,000 files) take session numbers from one shared
   counter and open them at a steady rate with a bounded number of
   handshakes in flight. They stop opening at the first error (anything but
   101 within TIMEOUT_S), at the cap (1.1 x what the file limit allows, so
   the ceiling is inside the ramp) or after the ramp's time limit. The ramp
   pauses once at CHECKPOINT sessions to read the proxy's memory there.
   Every held session sends a ping each KEEPALIVE_S, as a browser's client
   does, so no proxy's idle timeout closes it while the ramp climbs (the
   role's proxy_read_timeout is 90 s here; a ramp to 20,000 takes longer).
   Every second it reads the proxy's RSS and open files. At the top, every
   held session holds HOLD_S, the proxy's RSS and open files are read again,
   then each session sends a ping and must get its pong back through the
   proxy.
5. The ceiling is the number of sessions open when the first error came
   (all that were opened when no error came: then the cap or the time bound
   it, which the bound says); errors below it are sessions opened before
   the top that did not answer the ping at the top. The bound is classified
   as: the client (client-side errno errors such as EMFILE or
   EADDRNOTAVAIL, or a client process at a full core), open files (a proxy
   process within 2 % of its limit, or "Too many open files" or
   "worker_connections are not enough" logged during the ramp), memory (the
   host's MemAvailable under 5 %), the backend (accept failures or a backend
   near its limit), connections (only closes or resets before the 101 with
   an Nginx worker past 15/16 of worker_connections: from there Nginx closes
   connections still waiting for their request whenever it takes a new one,
   logging that only at warn), CPU (handshakes timing out while files
   remain), or not reached.
6. The Streamlit ramp: the app's ``_stcore/stream`` through each proxy to a
   fixed count (1,000), stopping once errors pass 1 %; sessions held and
   errors.

Afterwards the backends and the stock Nginx are stopped, Caddy gets its own
Caddyfile back (caddy.ensure) and the master's proxy is rendered again with
the app alone and the role's default sizing.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import errno
import hashlib
import json
import math
import multiprocessing as mp
import os
import re
import resource
import struct
import time
import urllib.request

try:
    from . import caddy
    from . import fleet as fl
except ImportError:
    import caddy
    import fleet as fl

HERE = os.path.dirname(os.path.abspath(__file__))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BACKEND_PORT = 9100
BACKEND_PATH = "/opt/bench-wsbackend.py"
BACKEND_PID = "/run/bench-wsbackend.pid"
# Sessions one backend process holds at most at the top, and one client
# process opens at most: both far below a process's 20,000 open files.
BACKEND_SESSIONS = 5000
CLIENT_SESSIONS = 4000
PEER_PORT = 8090
PEER_DIR = "/tmp/bench-peer"
PEER_CONNECTIONS = 768
ECHO = {"name": "wsecho", "path": "/wsecho/", "sticky": "none"}
STREAMLIT_SUBPROTOCOLS = ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]
# The role's reserves (plugins/plugin_utils/nginx_proxy_rules.py): the most
# sessions its validation accepts with worker_connections at the hard limit
# is workers x (hard - CONNECTION_RESERVE) / 2.
CONNECTION_RESERVE = 1024
# rate: new sessions per second over all processes; inflight: handshakes
# waiting at once per process; open_s: the longest a ramp may keep opening;
# cap: the most a ramp asks for even when the file limit allows more (None:
# 1.1 x what it allows); checkpoint: where the memory is read on the way up.
# Seconds between the keepalive pings of a held session: a third of the
# role's shortest WebSocket timeout (proxy_read_timeout, at least 60 s).
KEEPALIVE_S = 20
FULL = {"streamlit": 1000, "echo_rate": 250, "streamlit_rate": 100, "inflight": 100, "timeout_s": 10,
        "hold_s": 5, "open_s": 120, "cap": None, "checkpoint": 1000}
SMOKE = {"streamlit": 50, "echo_rate": 200, "streamlit_rate": 50, "inflight": 50, "timeout_s": 10,
         "hold_s": 2, "open_s": 30, "cap": 300, "checkpoint": 100}
HEADROOM = 1.1
CLIENT_ERRNOS = {"EMFILE", "ENFILE", "EADDRNOTAVAIL", "ENOBUFS", "ENOMEM"}
# Nginx closes connections still waiting for their request (the oldest
# first) whenever a worker gets a connection with at most worker_connections
# / 16 free (ngx_drain_connections), and logs that only at warn, below the
# error log's default level: past this share of its connection slots a worker
# resets or closes new sessions before the 101 without a line in either log.
DRAIN_SHARE = 15 / 16
DRAIN_KINDS = {"closed before 101", "ECONNRESET"}
FILE_PATTERNS = {"too many open files": "Too many open files",
                 "worker_connections are not enough": "worker_connections are not enough"}

# Debian 12's /etc/nginx/nginx.conf as shipped, worker settings untouched;
# only the pid, the logs and the server (the app locations on PEER_PORT instead
# of sites-enabled, whose servers the tuned Nginx already listens for) differ.
PEER_CONF = """user www-data;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
include /etc/nginx/modules-enabled/*.conf;

events {{
    worker_connections {connections};
}}

http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log {dir}/access.log;
    gzip on;
    include /etc/nginx/conf.d/*.conf;
    server {{
        listen {port} default_server;
        server_name _;
        include /etc/nginx/snippets/streamlit_ops_deploy.conf;
    }}
}}
"""

# Run on the master with python3 - PROXY FDS: the processes of one proxy
# (tuned: the Nginx with /run/nginx.pid; peer: the one in /tmp/bench-peer;
# caddy), their RSS, open-file limits and, with FDS 1, open files. "holders"
# are the processes that hold sessions: Nginx's workers, or Caddy itself.
PROCS = r"""
import json, os, sys
want, fds = sys.argv[1], sys.argv[2] == '1'
procs = {}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode().strip()
        status = dict(l.split(':', 1) for l in open(f'/proc/{pid}/status').read().splitlines() if ':' in l)
        limit = [l.split()[3] for l in open(f'/proc/{pid}/limits') if l.startswith('Max open files')]
        hard = [l.split()[4] for l in open(f'/proc/{pid}/limits') if l.startswith('Max open files')]
        count = len(os.listdir(f'/proc/{pid}/fd')) if fds else None
    except OSError:
        continue
    procs[pid] = {'pid': int(pid), 'cmd': cmd, 'ppid': status['PPid'].strip(),
                  'rss_kb': int(status.get('VmRSS', '0 kB').split()[0]),
                  'nofile': int(limit[0]) if limit and limit[0].isdigit() else None,
                  'nofile_hard': int(hard[0]) if hard and hard[0].isdigit() else None, 'fds': count}
out = {}
for pid, p in procs.items():
    if want == 'caddy':
        if p['cmd'].split(' ')[0].endswith('/caddy') and ' run' in p['cmd']:
            out = {'pid': p['pid'], 'rss_kb': p['rss_kb'], 'nofile_hard': p['nofile_hard'], 'holders': [p]}
    elif 'nginx: master process' in p['cmd'] and (('/tmp/bench-peer/' in p['cmd']) == (want == 'peer')):
        workers = [w for w in procs.values() if w['ppid'] == pid]
        out = {'pid': p['pid'], 'rss_kb': p['rss_kb'] + sum(w['rss_kb'] for w in workers),
               'nofile_hard': p['nofile_hard'], 'holders': workers}
print(json.dumps(out))
"""


# --------------------------------------------------------------------------- client

class HandshakeError(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


async def _handshake(ip: str, port: int, path: str, subprotocols: list[str], timeout: float):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {ip}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if subprotocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(subprotocols))
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = head.split(b" ", 2)[1].decode(errors="replace") if b" " in head else "?"
        if status != "101":
            raise HandshakeError(f"http {status}")
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        if accept not in head:
            raise HandshakeError("bad accept")
        return reader, writer
    except BaseException:
        writer.close()
        raise


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + body


async def _pong(reader, writer, timeout: float) -> bool:
    """Send a ping and read frames until its pong comes back."""
    token = os.urandom(8)

    async def frames():
        while True:
            first, second = await reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await reader.readexactly(8))
            payload = await reader.readexactly(length)
            if first & 0x0F == 0xA and payload == token:
                return True
            if first & 0x0F == 0x8:
                return False

    try:
        writer.write(_masked(0x9, token))
        return await asyncio.wait_for(frames(), timeout)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, RuntimeError):
        return False


def _kind(exc: BaseException) -> str:
    if isinstance(exc, HandshakeError):
        return exc.kind
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "closed before 101"
    if isinstance(exc, OSError) and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno]
    return type(exc).__name__


async def _client(spec: dict, shared: dict) -> dict:
    """Open sessions numbered by the shared counter until an error, the cap or the time; hold; ping."""
    held, errors, latencies = [], collections.Counter(), []
    first_error = None
    sem = asyncio.Semaphore(spec["inflight"])
    start, cpu_start = time.monotonic(), time.process_time()
    stop_opening = start + spec["open_s"]
    stopped, mine = None, 0

    async def one():
        nonlocal first_error
        began = time.monotonic()
        try:
            pair = await _handshake(spec["ip"], spec["port"], spec["path"], spec["subprotocols"], spec["timeout_s"])
        except Exception as exc:  # every failure is a data point
            kind = _kind(exc)
            errors[kind] += 1
            with shared["errors"].get_lock():
                shared["errors"].value += 1
                if shared["first_error_opened"].value < 0:
                    shared["first_error_opened"].value = shared["opened"].value
            if first_error is None:
                first_error = {"at": time.monotonic(), "kind": kind}
            return
        finally:
            sem.release()
        held.append(pair)
        latencies.append(time.monotonic() - began)
        with shared["opened"].get_lock():
            shared["opened"].value += 1

    async def keepalive():
        # As a browser's Streamlit client does: a ping on every held session
        # each KEEPALIVE_S, so no proxy times an idle session out
        # (proxy_read_timeout 90 s here) while the ramp is still climbing.
        # The pongs wait in the socket buffer; _pong skips them at the end.
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            for dummy, writer in list(held):
                try:
                    writer.write(_masked(0x9, b"keep"))
                except (ConnectionError, RuntimeError):
                    pass

    pinger = asyncio.create_task(keepalive())
    tasks = []
    while True:
        if shared["errors"].value > spec["max_errors"]:
            stopped = "errors"
            break
        if time.monotonic() > stop_opening:
            stopped = "time"
            break
        if mine >= spec["count"]:
            stopped = "count"
            break
        with shared["attempted"].get_lock():
            number = shared["attempted"].value
            go = number < shared["limit"].value
            if go:
                shared["attempted"].value = number + 1
        if not go:
            if shared["limit"].value >= spec["total"]:
                stopped = "count"
                break
            await asyncio.sleep(0.05)  # paused at the checkpoint
            continue
        delay = shared["t0"].value + (number - shared["n0"].value) / spec["rate"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await sem.acquire()
        mine += 1
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    opening_s = time.monotonic() - start
    cpu = time.process_time() - cpu_start
    with shared["finished"].get_lock():
        shared["finished"].value += 1
    # Hold until the parent has read the proxy at the top (bounded).
    until = time.monotonic() + spec["hold_max_s"]
    while not shared["release"].is_set() and time.monotonic() < until:
        await asyncio.sleep(0.2)
    check = asyncio.Semaphore(spec["inflight"])

    async def alive(pair):
        async with check:
            return await _pong(*pair, spec["timeout_s"])

    pinger.cancel()
    answers = await asyncio.gather(*(alive(p) for p in held))
    for dummy, writer in held:
        try:
            writer.write(_masked(0x8, struct.pack("!H", 1000)))
            writer.close()
        except (ConnectionError, RuntimeError):
            pass
    await asyncio.sleep(0.5)
    latencies.sort()
    return {"tried": len(tasks), "opened": len(held), "held": sum(answers), "errors": dict(errors),
            "first_error": first_error, "stopped": stopped, "cpu_share": round(cpu / max(opening_s, 0.001), 2),
            "handshake_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
            "handshake_max_ms": round(latencies[-1] * 1000, 1) if latencies else None}


def _client_process(spec: dict, shared: dict, results) -> None:
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        results.put(asyncio.run(_client(spec, shared)))
    except Exception as exc:  # report, never hang the parent
        results.put({"opened": 0, "held": 0, "errors": {f"client crashed: {exc!r}": 1}})


# --------------------------------------------------------------------------- the master and the backends

def proxy_procs(fleet: dict, proxy: str, fds: bool = False) -> dict:
    out = fl.sh(fleet["master"]["name"], f"python3 - {proxy} {1 if fds else 0}", input=PROCS, timeout=30, check=False)
    try:
        return json.loads(out or "{}")
    except ValueError:
        return {}


def allowance(procs: dict, connections: int | None) -> dict:
    """Sessions the proxy's file limit allows: per holder (limit - open files) / 2, at most connections / 2."""
    per = []
    for holder in procs.get("holders", []):
        files = (holder["nofile"] or 0) - (holder["fds"] or 0)
        per.append(max(0, min(files, connections or files)) // 2)
    return {"sessions": sum(per), "per_process": per,
            "limits": [h["nofile"] for h in procs.get("holders", [])],
            "base_fds": [h["fds"] for h in procs.get("holders", [])]}


def host_memory() -> dict:
    info = dict(line.split(":", 1) for line in open("/proc/meminfo", encoding="ascii"))
    return {"total_mib": int(info["MemTotal"].split()[0]) // 1024,
            "available_mib": int(info["MemAvailable"].split()[0]) // 1024}


def backend_stats(child: dict) -> dict:
    try:
        with urllib.request.urlopen(f"http://{child['ip']}:{BACKEND_PORT}/stats", timeout=5) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return {}


def backends_stats(children: list[dict]) -> dict:
    each = {c["name"]: backend_stats(c) for c in children}
    total = {k: sum(s.get(k, 0) for s in each.values()) for k in ("open", "accepted", "accept_errors")}
    total["fullest"] = max((s.get("fds", 0) / max(s.get("nofile", 1), 1) for s in each.values()), default=0)
    return dict(total, each=each)


def backend_children(fleet: dict, sessions: int) -> list[dict]:
    """Enough children for BACKEND_SESSIONS each at most, those without the app first; at least 2."""
    app = {c["name"] for c in fleet["children"]}
    pool = sorted(fleet.get("all_children") or fleet["children"], key=lambda c: c["name"] in app)
    return pool[:max(2, min(len(pool), math.ceil(sessions / BACKEND_SESSIONS)))]


def start_backends(children: list[dict], max_seconds: int) -> None:
    for child in children:
        fl.docker("cp", os.path.join(HERE, "wsbackend.py"), f"{child['name']}:{BACKEND_PATH}")
        stop_backend(child)
        fl.docker("exec", "-d", child["name"], "python3", BACKEND_PATH, "--port", str(BACKEND_PORT),
                  "--pidfile", BACKEND_PID, "--max-seconds", str(max_seconds))
    for child in children:
        for dummy in range(50):
            if backend_stats(child):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the WebSocket backend did not start on {child['name']}")


def stop_backend(child: dict) -> None:
    fl.sh(child["name"], f"[ -f {BACKEND_PID} ] && kill $(cat {BACKEND_PID}) 2>/dev/null; "
          f"for i in $(seq 1 50); do [ -f {BACKEND_PID} ] || exit 0; sleep 0.1; done", check=False)


def echo_backends(children: list[dict]) -> list[str]:
    return [f"{c['ip']}:{BACKEND_PORT}" for c in children]


def ceiling_vars(hard: int, workers: int) -> dict:
    """The role's variables for the ceiling run: every worker may use the whole hard limit.

    worker_connections = worker_rlimit_nofile = hard: a connection slot for
    every file, so the file limit is what runs out. reuseport: the kernel
    spreads the sessions evenly, so the workers fill together. The expected
    sessions are the most the role's validation accepts with that.
    """
    return {"nginx_proxy_reuseport": True, "nginx_proxy_worker_rlimit_nofile": hard,
            "nginx_proxy_worker_connections": hard,
            "nginx_proxy_expected_sessions": workers * (hard - CONNECTION_RESERVE) // 2}


def worker_settings(fleet: dict) -> dict:
    dump = fl.sh(fleet["master"]["name"], "nginx -T 2>/dev/null", check=False)
    main = dump.split("# configuration file", 2)[1] if "# configuration file" in dump else dump

    def directive(name):
        found = re.search(rf"^\s*{name}\s+([^;]+);", main, re.M)
        return found.group(1).strip() if found else None

    return {"worker_processes": directive("worker_processes"), "worker_connections": directive("worker_connections"),
            "worker_rlimit_nofile": directive("worker_rlimit_nofile"),
            "reuseport": " reuseport" in dump}


def start_peer(fleet: dict) -> None:
    master = fleet["master"]["name"]
    stop_peer(fleet)
    fl.sh(master, f"mkdir -p {PEER_DIR} && cat > {PEER_DIR}/nginx.conf",
          input=PEER_CONF.format(dir=PEER_DIR, port=PEER_PORT, connections=PEER_CONNECTIONS))
    fl.sh(master, f"nginx -t -q -c {PEER_DIR}/nginx.conf && nginx -c {PEER_DIR}/nginx.conf")
    for dummy in range(50):
        if proxy_procs(fleet, "peer").get("holders"):
            return
        time.sleep(0.1)


def stop_peer(fleet: dict) -> None:
    fl.sh(fleet["master"]["name"],
          f"[ -f {PEER_DIR}/nginx.pid ] && kill -QUIT $(cat {PEER_DIR}/nginx.pid) 2>/dev/null; "
          f"for i in $(seq 1 50); do [ -f {PEER_DIR}/nginx.pid ] || exit 0; sleep 0.1; done", check=False)


def caddy_with_echo(fleet: dict, backends: list[str]) -> str:
    """bench/caddy.py's Caddyfile plus, in its plain-HTTP site, the light backend
    the way Caddy's documentation proxies any WebSocket app."""
    return caddy.caddyfile(fleet, {ECHO["path"]: backends})


def start_caddy_echo(fleet: dict, backends: list[str]) -> dict:
    master = fleet["master"]["name"]
    found = caddy.ensure(fleet)
    fl.sh(master, f"cat > {caddy.CADDYFILE}", input=caddy_with_echo(fleet, backends))
    fl.sh(master, f"caddy validate --adapter caddyfile --config {caddy.CADDYFILE} >/dev/null 2>&1 "
                  f"|| caddy validate --adapter caddyfile --config {caddy.CADDYFILE}")
    fl.sh(master, "systemctl restart caddy", timeout=120)
    deadline = time.monotonic() + 60
    while not caddy._answers(found["http"] + ECHO["path"]):
        if time.monotonic() > deadline:
            raise RuntimeError("Caddy did not answer on /wsecho/ within 60 s")
        time.sleep(0.5)
    return found


def log_counts(fleet: dict, proxy: str, since: float) -> dict:
    """Lines of FILE_PATTERNS a proxy logged: Nginx's whole error log (the ramp takes differences), Caddy's journal since."""
    if proxy == "caddy":
        source = f"journalctl -u caddy --since @{int(since)} --no-pager -o cat 2>/dev/null"
    else:
        source = f"cat {PEER_DIR if proxy == 'peer' else '/var/log/nginx'}/error.log 2>/dev/null"
    out = {}
    for key, pattern in FILE_PATTERNS.items():
        text = fl.sh(fleet["master"]["name"], f"{source} | grep -ci '{pattern}' || true", check=False)
        out[key] = int(text.strip() or 0)
    return out


# --------------------------------------------------------------------------- one ramp

def _wait(until: float, done) -> None:
    while time.monotonic() < until and not done():
        time.sleep(0.2)


def ramp(fleet: dict, cfg: dict, proxy: str, url: tuple[str, int], path: str, cap: int, rate: float,
         subprotocols: list[str], checkpoint: int | None, max_errors: int, backends: list[dict],
         slots: int | None = None) -> dict:
    """One ramp through a proxy; slots: Nginx's worker_connections, the share of a worker's files it may use."""
    ctx = mp.get_context("fork")
    shared = {"errors": ctx.Value("i", 0), "opened": ctx.Value("i", 0), "finished": ctx.Value("i", 0),
              "attempted": ctx.Value("i", 0), "limit": ctx.Value("i", 0), "t0": ctx.Value("d", 0.0),
              "n0": ctx.Value("i", 0), "first_error_opened": ctx.Value("i", -1), "release": ctx.Event()}
    results = ctx.Queue()
    procs = max(2, math.ceil(cap / CLIENT_SESSIONS))
    open_s = min(cfg["open_s"], cap / rate * 1.5 + 2 * cfg["timeout_s"])
    hold_max = open_s + cfg["timeout_s"] + cfg["hold_s"] + 120
    spec = {"ip": url[0], "port": url[1], "path": path, "subprotocols": subprotocols, "rate": rate,
            "inflight": cfg["inflight"], "timeout_s": cfg["timeout_s"], "open_s": open_s,
            "max_errors": max_errors, "hold_max_s": hold_max, "count": math.ceil(cap / procs), "total": cap}
    log_before = log_counts(fleet, proxy, time.time())
    since = time.time()
    before = proxy_procs(fleet, proxy)
    clients = [ctx.Process(target=_client_process, args=(spec, shared, results), daemon=True) for dummy in range(procs)]
    started = time.monotonic()
    stages = [n for n in (checkpoint, cap) if n and n <= cap]
    shared["t0"].value, shared["limit"].value = started, stages[0]
    for proc in clients:
        proc.start()
    timeline, at_checkpoint = [], {}
    deadline = started + open_s + cfg["timeout_s"] + 30
    mem_min = host_memory()["available_mib"]

    def opened():
        return shared["opened"].value

    def sample():
        nonlocal mem_min
        now = proxy_procs(fleet, proxy, fds=True)
        fullest = max(((h["fds"] or 0) / min(h["nofile"], slots or h["nofile"]) for h in now.get("holders", []) if h["nofile"]),
                      default=0)
        mem_min = min(mem_min, host_memory()["available_mib"])
        timeline.append({"t": round(time.monotonic() - started, 1), "opened": opened(), "errors": shared["errors"].value,
                         "rss_mib": round(now.get("rss_kb", 0) / 1024, 1), "fullest_fd_share": round(fullest, 3)})
        return now

    def over():
        return (shared["finished"].value >= procs or shared["errors"].value > max_errors
                or time.monotonic() > deadline)

    for number, stage in enumerate(stages):
        if number:
            shared["n0"].value, shared["t0"].value = shared["attempted"].value, time.monotonic()
            shared["limit"].value = stage
        while not over() and opened() + shared["errors"].value < stage:
            time.sleep(1)
            sample()
        if stage == checkpoint and opened() >= checkpoint and not shared["errors"].value:
            at_checkpoint = proxy_procs(fleet, proxy)
    _wait(deadline, lambda: shared["finished"].value >= procs)
    # At the top: hold, and read the proxy while every session is open.
    _wait(time.monotonic() + cfg["hold_s"], lambda: False)
    top = sample()
    at_backends = backends_stats(backends) if backends else {}
    load = os.getloadavg()
    shared["release"].set()
    parts = []
    for dummy in clients:
        try:
            parts.append(results.get(timeout=hold_max))
        except Exception:  # queue.Empty: a process that never answered
            parts.append({"opened": 0, "held": 0, "errors": {"client gave no result": 1}})
    for proc in clients:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
    errors = collections.Counter()
    for part in parts:
        errors.update(part.get("errors", {}))
    firsts = sorted((p["first_error"] for p in parts if p.get("first_error")), key=lambda e: e["at"])
    log_after = log_counts(fleet, proxy, since)
    logged = log_after if proxy == "caddy" else {k: log_after[k] - log_before[k] for k in log_after}
    opened_n = sum(p.get("opened", 0) for p in parts)
    held = sum(p.get("held", 0) for p in parts)
    first_opened = shared["first_error_opened"].value
    ceiling = first_opened if first_opened >= 0 else opened_n
    result = {
        "proxy": proxy, "cap": cap, "slots": slots, "client_processes": procs, "opened": opened_n, "held": held,
        "ceiling": ceiling, "dropped": opened_n - held,
        "errors": sum(errors.values()), "error_kinds": dict(errors),
        "first_error": firsts[0]["kind"] if firsts else None,
        "stopped": sorted({p.get("stopped") for p in parts if p.get("stopped")}),
        "seconds": round(time.monotonic() - started, 1),
        "rss_mib_before": round(before.get("rss_kb", 0) / 1024, 1),
        "rss_mib_at_checkpoint": round(at_checkpoint["rss_kb"] / 1024, 1) if at_checkpoint else None,
        "rss_mib_at_top": round(top.get("rss_kb", 0) / 1024, 1),
        "holders_at_top": [{k: h[k] for k in ("pid", "rss_kb", "nofile", "fds")} for h in top.get("holders", [])],
        "fullest_fd_share_at_top": timeline[-1]["fullest_fd_share"] if timeline else None,
        "logged": logged, "host_available_mib_min": mem_min, "host_total_mib": host_memory()["total_mib"],
        "load_at_top": [round(x, 2) for x in load], "backends_at_top": at_backends,
        "client_cpu_share_max": max((p.get("cpu_share", 0) for p in parts), default=None),
        "handshake_p50_ms": sorted(p.get("handshake_p50_ms") or 0 for p in parts)[len(parts) // 2] if parts else None,
        "timeline": timeline[-40:],
    }
    result["bound"] = classify(result)
    return result


def classify(r: dict) -> dict:
    """What stopped the ramp: the client, open files, memory, the backend, Nginx's connections, CPU, or nothing."""
    kinds = r["error_kinds"]
    if not r["errors"]:
        why = "time" if "time" in r["stopped"] else "cap"
        return {"bound": "not reached", "evidence": f"no error up to the ramp's {why} ({r['opened']:,} sessions)"}
    client = {k: v for k, v in kinds.items() if k in CLIENT_ERRNOS or k.startswith("client")}
    if client:
        return {"bound": "client", "evidence": f"client-side errors {client}"}
    if (r.get("client_cpu_share_max") or 0) >= 0.9:
        return {"bound": "client", "evidence": f"a client process used {r['client_cpu_share_max']:.0%} of a core"}
    logged = {k: v for k, v in r["logged"].items() if v}
    fullest = r.get("fullest_fd_share_at_top") or 0
    if logged or fullest >= 0.98:
        return {"bound": "open files", "evidence": f"logged {logged or 'nothing'}; fullest process at {fullest:.1%} of its file limit"}
    if r["host_available_mib_min"] < 0.05 * r["host_total_mib"]:
        return {"bound": "memory", "evidence": f"MemAvailable down to {r['host_available_mib_min']} MiB"}
    backends = r.get("backends_at_top") or {}
    if backends.get("accept_errors") or backends.get("fullest", 0) >= 0.9:
        return {"bound": "backend", "evidence": f"backend accept errors {backends.get('accept_errors')}, "
                                                f"fullest at {backends.get('fullest', 0):.0%} of its files"}
    slots = r.get("slots")
    busiest = max((h["fds"] or 0 for h in r.get("holders_at_top", [])), default=0)
    if slots and set(kinds) <= DRAIN_KINDS and busiest >= DRAIN_SHARE * slots - 32:
        return {"bound": "connections", "evidence": f"errors {kinds} with the busiest worker at {busiest:,} of "
                                                    f"{slots:,} worker_connections: past {DRAIN_SHARE * slots:,.0f} Nginx "
                                                    "closes connections still waiting for their request (logged at warn)"}
    if "timeout" in kinds:
        return {"bound": "CPU", "evidence": f"handshakes timed out with the fullest process at {fullest:.0%} of its files, "
                                            f"load {r['load_at_top']}"}
    return {"bound": "unknown", "evidence": f"errors {kinds}; fullest process at {fullest:.0%} of its files"}


def _settle(backends: list[dict], seconds: float = 30) -> None:
    """Wait until the backends have seen the last ramp's sessions close."""
    until = time.monotonic() + seconds
    while backends and time.monotonic() < until and backends_stats(backends).get("open", 0) > 0:
        time.sleep(0.5)
    time.sleep(1)


# --------------------------------------------------------------------------- the measurement

def run(fleet: dict, smoke: bool = False) -> dict:
    cfg = SMOKE if smoke else FULL
    master = fleet["master"]
    details: dict = {"config": cfg}
    ramps: dict = {}
    running = proxy_procs(fleet, "tuned")
    hard = running.get("nofile_hard") or 20000
    cpus = int(fl.sh(master["name"], "nproc").strip() or 1)
    # The most the master's file limit could allow, for the backends' count.
    top_guess = int(cpus * hard / 2 * HEADROOM) if cfg["cap"] is None else cfg["cap"]
    children = backend_children(fleet, top_guess)
    apps = [fl.app_backends(fleet), dict(ECHO, backends=echo_backends(children))]
    details["backends"] = [c["name"] for c in children]
    budget = 1200 if cfg["cap"] is None else 400
    start_backends(children, budget)
    ours_port = int(master.get("port", 80))
    caddy_port = caddy.HTTP_PORT
    targets = {"ours": ("tuned", ours_port), "stock": ("peer", PEER_PORT), "caddy": ("caddy", caddy_port)}
    try:
        extra = ceiling_vars(hard, cpus)
        details["ceiling_vars"] = extra
        details["master_playbook_s"] = fl.configure_master(fleet, apps, "ramp-ceiling", extra=extra)["seconds"]
        details["worker_settings"] = worker_settings(fleet)
        start_peer(fleet)
        details["caddy"] = start_caddy_echo(fleet, echo_backends(children))
        limits = {}
        connections = {"ours": int(details["worker_settings"]["worker_connections"] or 0) or None,
                       "stock": PEER_CONNECTIONS, "caddy": None}
        for name, (proxy, port) in targets.items():
            procs = proxy_procs(fleet, proxy, fds=True)
            limits[name] = allowance(procs, connections[name])
            cap = cfg["cap"] or math.ceil(limits[name]["sessions"] * HEADROOM) + 100
            ramps[f"echo-{name}"] = ramp(fleet, cfg, proxy, (master["ip"], port), ECHO["path"], cap,
                                         cfg["echo_rate"], [], cfg["checkpoint"], 0, children, connections[name])
            _settle(children)
        details["allowed"] = limits
        app_path = fleet["app"]["path"] + "_stcore/stream"
        count = cfg["streamlit"]
        for name, (proxy, port) in targets.items():
            ramps[f"streamlit-{name}"] = ramp(fleet, cfg, proxy, (master["ip"], port), app_path, count,
                                              cfg["streamlit_rate"], STREAMLIT_SUBPROTOCOLS, None,
                                              max(1, count // 100), [], connections[name])
            time.sleep(2)
        details["tuned_setrlimit_errors"] = fl.sh(master["name"], "grep -c setrlimit /var/log/nginx/error.log || true",
                                                  check=False).strip()
    finally:
        stop_peer(fleet)
        for child in children:
            stop_backend(child)
        try:
            caddy.ensure(fleet)
            details["caddy_restored"] = True
        except RuntimeError as exc:
            details["caddy_restored"] = str(exc)
        try:
            fl.configure_master(fleet, [fl.app_backends(fleet)], "ramp-restore")
            details["master_restored"] = True
        except RuntimeError as exc:
            details["master_restored"] = str(exc)
    details["ramps"] = ramps
    return {"title": "Concurrent sessions held by the master, to the ceiling", "rows": rows(details, cfg),
            "details": details}


def _fmt(value) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _both(ramps: dict, kind: str, key) -> str:
    """The peers' figures in one cell: Caddy's, then the stock Nginx's."""
    return "; ".join(_fmt(key(ramps[f"{kind}-{name}"])) for name in ("caddy", "stock"))


def rows(details: dict, cfg: dict) -> list[dict]:
    ramps, allowed = details["ramps"], details["allowed"]
    peers = "Caddy; stock Debian Nginx"
    ours = ramps["echo-ours"]
    ratio = {n: round(ramps[f"echo-{n}"]["ceiling"] / allowed[n]["sessions"], 3) if allowed[n]["sessions"] else None
             for n in ("ours", "caddy", "stock")}
    below = {n: ramps[f"echo-{n}"]["dropped"] for n in ("ours", "caddy", "stock")}
    goal_met = None if cfg["cap"] else bool(ratio["ours"] and ratio["ours"] >= 0.95 and below["ours"] == 0
                                            and ours["bound"]["bound"] == "open files")
    out = [
        fl.row("ceiling, light backend: sessions open at the first error", ours["ceiling"], "sessions", peers,
               _both(ramps, "echo", lambda r: r["ceiling"]), "reported", None, ratio="-"),
        fl.row("ceiling / sessions its file limit allows (workers x (limit - open files) / 2)", ratio["ours"], "",
               f"allowed {allowed['ours']['sessions']:,}; {peers}",
               f"{ratio['caddy']}; {ratio['stock']}", ">= 0.95, 0 errors below, bound: open files", goal_met, ratio="-"),
        fl.row("ceiling, light backend: errors below it (held sessions lost at the top)", below["ours"], "errors",
               peers, f"{below['caddy']:,}; {below['stock']:,}", "0", below["ours"] == 0, ratio="-"),
        fl.row("ceiling, light backend: what bounds it", ours["bound"]["bound"], "", peers,
               _both(ramps, "echo", lambda r: r["bound"]["bound"]), "open files", None if cfg["cap"] else
               ours["bound"]["bound"] == "open files", ratio="-"),
        fl.row(f"proxy memory at {cfg['checkpoint']:,} sessions (ours: master + workers RSS)",
               ours["rss_mib_at_checkpoint"], "MiB", peers, _both(ramps, "echo", lambda r: r["rss_mib_at_checkpoint"]),
               "reported", None, ratio="-"),
        fl.row("proxy memory at the ceiling", ours["rss_mib_at_top"], "MiB", peers,
               _both(ramps, "echo", lambda r: r["rss_mib_at_top"]), "reported", None, ratio="-"),
    ]
    streamlit = ramps["streamlit-ours"]
    count = cfg["streamlit"]
    out += [
        fl.row(f"idle Streamlit sessions held ({count:,} asked)", streamlit["held"], "sessions", peers,
               _both(ramps, "streamlit", lambda r: r["held"]), f"{count:,} held", streamlit["held"] == count, ratio="-"),
        fl.row("idle Streamlit sessions: errors", streamlit["errors"], "errors", peers,
               _both(ramps, "streamlit", lambda r: r["errors"]), "0", streamlit["errors"] == 0, ratio="-"),
    ]
    settings = details["worker_settings"]
    configured = int(settings["worker_rlimit_nofile"]) if (settings["worker_rlimit_nofile"] or "").isdigit() else None
    limits = allowed["ours"]["limits"]
    hard = details["ceiling_vars"]["nginx_proxy_worker_rlimit_nofile"]
    out.append(fl.row("worker_rlimit_nofile of our Nginx for the ceiling run, in force in every worker", configured, "files",
                      "hard open-file limit of the Nginx master", hard, "= the hard limit, in force",
                      bool(configured == hard and limits and all(x == configured for x in limits))))
    return out


if __name__ == "__main__":
    fl.cli(run, __doc__.splitlines()[0])

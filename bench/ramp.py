"""Concurrent sessions held by the master: ramps of idle WebSocket sessions.

1. A light WebSocket backend (bench/wsbackend.py, standard library only) is
   copied to the first child and started there on port 9100.
2. bench/playbooks/master.yml runs the real nginx_proxy role on the master
   with the app's entry plus ``wsecho`` at /wsecho/ -> CHILD:9100, so the
   role's own location and worker settings are what is measured.
3. The peer: a second Nginx on the master, port 8090, with Debian's stock
   worker settings (worker_processes auto; worker_connections 768; no
   worker_rlimit_nofile) and the same conf.d and location snippet, so the
   tuned one keeps running beside it.
4. Four ramps, each bounded in count and time, each stopping by itself:
   /wsecho/ to TARGET sessions through the tuned Nginx, then the peer; the
   app's ``_stcore/stream`` to a smaller count through both. The client is
   several processes, each opening its share at a bounded rate with a
   bounded number of handshakes in flight. A ramp stops opening once its
   errors pass 1 % of its count. At the top every process holds its sessions
   for HOLD_S, the master's memory is read (RSS of the Nginx instance under
   test, from /proc on the master, and the master container's cgroup), then
   each held session sends a ping and must get its pong back through the
   proxy. Held = 101 received and pong received.
5. The tuned Nginx's worker_rlimit_nofile is checked against the hard open-
   file limit of its running workers (/proc/<pid>/limits). No process here
   raises its own limit; 10,000 sessions cost 20,000 connections over the
   workers, so a single worker holding them all would not fit in 20,000 files.

Afterwards the backend and the peer are stopped and the master's proxy is
rendered again without /wsecho/.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import json
import multiprocessing as mp
import os
import re
import struct
import time
import urllib.request

try:
    from . import fleet as fl
except ImportError:
    import fleet as fl

HERE = os.path.dirname(os.path.abspath(__file__))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BACKEND_PORT = 9100
BACKEND_PATH = "/opt/bench-wsbackend.py"
BACKEND_PID = "/run/bench-wsbackend.pid"
PEER_PORT = 8090
PEER_DIR = "/tmp/bench-peer"
ECHO = {"name": "wsecho", "path": "/wsecho/"}
STREAMLIT_SUBPROTOCOLS = ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]
# rate: new sessions per second over all processes; inflight: handshakes
# waiting at once per process; open_s: the longest a ramp may keep opening.
FULL = {"echo": 10000, "streamlit": 1000, "procs": 4, "echo_rate": 500, "streamlit_rate": 100,
        "inflight": 100, "timeout_s": 10, "hold_s": 5, "open_s": 120}
SMOKE = {"echo": 200, "streamlit": 50, "procs": 2, "echo_rate": 200, "streamlit_rate": 50,
         "inflight": 50, "timeout_s": 10, "hold_s": 2, "open_s": 30}

# Debian 12's /etc/nginx/nginx.conf as shipped, worker settings untouched;
# only the pid, the logs and the server (the app locations on PEER_PORT instead
# of sites-enabled, whose servers the tuned Nginx already listens for) differ.
PEER_CONF = """user www-data;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
include /etc/nginx/modules-enabled/*.conf;

events {{
    worker_connections 768;
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

# Run on the master with python3: each Nginx master process, its workers,
# their RSS and open-file limits.
NGINX_PROCS = r"""
import json, os
procs = {}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode().strip()
        status = dict(l.split(':', 1) for l in open(f'/proc/{pid}/status').read().splitlines() if ':' in l)
        limits = [l for l in open(f'/proc/{pid}/limits').read().splitlines() if l.startswith('Max open files')]
    except OSError:
        continue
    if not cmd.startswith('nginx:'):
        continue
    nofile = limits[0].split()[3:5] if limits else [None, None]
    procs[pid] = {'cmd': cmd, 'ppid': status['PPid'].strip(), 'rss_kb': int(status.get('VmRSS', '0 kB').split()[0]),
                  'nofile_soft': nofile[0], 'nofile_hard': nofile[1]}
out = {}
for pid, p in procs.items():
    if 'master process' in p['cmd']:
        name = 'peer' if '/tmp/bench-peer/' in p['cmd'] else 'tuned'
        workers = [dict(w, pid=q) for q, w in procs.items() if w['ppid'] == pid]
        out[name] = {'pid': pid, 'rss_kb': p['rss_kb'] + sum(w['rss_kb'] for w in workers),
                     'master_nofile': [p['nofile_soft'], p['nofile_hard']], 'workers': workers}
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
    writer.write(_masked(0x9, token))
    deadline = time.monotonic() + timeout

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
        return await asyncio.wait_for(frames(), max(0.1, deadline - time.monotonic()))
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        return False


def _kind(exc: BaseException) -> str:
    if isinstance(exc, HandshakeError):
        return exc.kind
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "closed before 101"
    return type(exc).__name__


async def _client(spec: dict, shared: dict) -> dict:
    held, errors, latencies = [], collections.Counter(), []
    sem = asyncio.Semaphore(spec["inflight"])
    start = time.monotonic()
    stop_opening = start + spec["open_s"]
    stopped = None

    async def one():
        async with sem:
            began = time.monotonic()
            try:
                pair = await _handshake(spec["ip"], spec["port"], spec["path"], spec["subprotocols"], spec["timeout_s"])
            except Exception as exc:  # every failure is a data point
                errors[_kind(exc)] += 1
                with shared["errors"].get_lock():
                    shared["errors"].value += 1
                return
            held.append(pair)
            latencies.append(time.monotonic() - began)
            with shared["opened"].get_lock():
                shared["opened"].value += 1

    tasks = []
    for number in range(spec["count"]):
        if shared["errors"].value > spec["max_errors"]:
            stopped = "errors"
            break
        if time.monotonic() > stop_opening:
            stopped = "time"
            break
        delay = start + number / spec["rate"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    with shared["finished"].get_lock():
        shared["finished"].value += 1
    # Hold until the parent has read the master's memory (bounded).
    until = time.monotonic() + spec["hold_max_s"]
    while not shared["release"].is_set() and time.monotonic() < until:
        await asyncio.sleep(0.2)
    check = asyncio.Semaphore(spec["inflight"])

    async def alive(pair):
        async with check:
            return await _pong(*pair, spec["timeout_s"])

    answers = await asyncio.gather(*(alive(p) for p in held))
    for dummy, writer in held:
        try:
            writer.write(_masked(0x8, struct.pack("!H", 1000)))
            writer.close()
        except (ConnectionError, RuntimeError):
            pass
    await asyncio.sleep(0.5)
    latencies.sort()
    return {"asked": spec["count"], "tried": len(tasks), "opened": len(held), "held": sum(answers),
            "errors": dict(errors), "stopped": stopped,
            "handshake_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
            "handshake_max_ms": round(latencies[-1] * 1000, 1) if latencies else None}


def _client_process(spec: dict, shared: dict, results) -> None:
    try:
        results.put(asyncio.run(_client(spec, shared)))
    except Exception as exc:  # report, never hang the parent
        results.put({"asked": spec["count"], "opened": 0, "held": 0, "errors": {f"client crashed: {exc!r}": 1}})


# --------------------------------------------------------------------------- master and backend

def nginx_procs(fleet: dict) -> dict:
    out = fl.sh(fleet["master"]["name"], "python3 -", input=NGINX_PROCS, timeout=30)
    return json.loads(out or "{}")


def container_memory(name: str) -> dict:
    """The master container's cgroup v1 memory, read on the host."""
    cid = fl.docker("inspect", "-f", "{{.Id}}", name).strip()
    base = f"/sys/fs/cgroup/memory/docker/{cid}"
    try:
        usage = int(open(f"{base}/memory.usage_in_bytes", encoding="ascii").read())
        stat = dict(line.split() for line in open(f"{base}/memory.stat", encoding="ascii"))
    except OSError:
        return {}
    return {"usage_mib": round(usage / 2**20, 1), "rss_mib": round(int(stat.get("total_rss", 0)) / 2**20, 1),
            "cache_mib": round(int(stat.get("total_cache", 0)) / 2**20, 1)}


def backend_stats(child: dict) -> dict:
    try:
        with urllib.request.urlopen(f"http://{child['ip']}:{BACKEND_PORT}/stats", timeout=5) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return {}


def start_backend(fleet: dict, child: dict, max_seconds: int) -> None:
    fl.docker("cp", os.path.join(HERE, "wsbackend.py"), f"{child['name']}:{BACKEND_PATH}")
    stop_backend(child)
    fl.docker("exec", "-d", child["name"], "python3", BACKEND_PATH, "--port", str(BACKEND_PORT),
              "--pidfile", BACKEND_PID, "--max-seconds", str(max_seconds))
    for dummy in range(50):
        if backend_stats(child):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the WebSocket backend did not start on {child['name']}")


def stop_backend(child: dict) -> None:
    fl.sh(child["name"], f"[ -f {BACKEND_PID} ] && kill $(cat {BACKEND_PID}) 2>/dev/null; "
          f"for i in $(seq 1 50); do [ -f {BACKEND_PID} ] || exit 0; sleep 0.1; done", check=False)


def proxy_apps(fleet: dict, with_echo: bool) -> list[dict]:
    apps = [fl.app_backends(fleet)]
    if with_echo:
        apps.append(dict(ECHO, backends=[f"{fleet['children'][0]['ip']}:{BACKEND_PORT}"]))
    return apps


def configure_master(fleet: dict, with_echo: bool) -> dict:
    return fl.configure_master(fleet, proxy_apps(fleet, with_echo), f"ramp-{'echo' if with_echo else 'restore'}")


def start_peer(fleet: dict) -> None:
    master = fleet["master"]["name"]
    stop_peer(fleet)
    fl.sh(master, f"mkdir -p {PEER_DIR} && cat > {PEER_DIR}/nginx.conf",
          input=PEER_CONF.format(dir=PEER_DIR, port=PEER_PORT))
    fl.sh(master, f"nginx -t -q -c {PEER_DIR}/nginx.conf && nginx -c {PEER_DIR}/nginx.conf")


def stop_peer(fleet: dict) -> None:
    fl.sh(fleet["master"]["name"],
          f"[ -f {PEER_DIR}/nginx.pid ] && kill -QUIT $(cat {PEER_DIR}/nginx.pid) 2>/dev/null; "
          f"for i in $(seq 1 50); do [ -f {PEER_DIR}/nginx.pid ] || exit 0; sleep 0.1; done", check=False)


def count_log(fleet: dict, path: str, pattern: str) -> int:
    out = fl.sh(fleet["master"]["name"], f"grep -c '{pattern}' {path} 2>/dev/null || true", check=False)
    return int(out.strip() or 0)


def worker_settings(fleet: dict) -> dict:
    dump = fl.sh(fleet["master"]["name"], "nginx -T 2>/dev/null", check=False)
    main = dump.split("# configuration file", 2)[1] if "# configuration file" in dump else dump

    def directive(name):
        found = re.search(rf"^\s*{name}\s+([^;]+);", main, re.M)
        return found.group(1).strip() if found else None

    return {"worker_processes": directive("worker_processes"), "worker_connections": directive("worker_connections"),
            "worker_rlimit_nofile": directive("worker_rlimit_nofile")}


# --------------------------------------------------------------------------- one ramp

def ramp(fleet: dict, cfg: dict, name: str, instance: str, port: int, path: str, count: int, rate: float,
         subprotocols: list[str], backend: dict | None = None) -> dict:
    ctx = mp.get_context("fork")
    shared = {"errors": ctx.Value("i", 0), "opened": ctx.Value("i", 0), "finished": ctx.Value("i", 0),
              "release": ctx.Event()}
    results = ctx.Queue()
    procs = cfg["procs"]
    shares = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    hold_max = cfg["open_s"] + cfg["timeout_s"] + cfg["hold_s"] + 60
    spec = {"ip": fleet["master"]["ip"], "port": port, "path": path, "subprotocols": subprotocols,
            "rate": rate / procs, "inflight": cfg["inflight"], "timeout_s": cfg["timeout_s"],
            "open_s": cfg["open_s"], "max_errors": max(20, count // 100), "hold_max_s": hold_max}
    workers = [ctx.Process(target=_client_process, args=(dict(spec, count=n), shared, results), daemon=True)
               for n in shares if n]
    before = nginx_procs(fleet).get(instance, {})
    started = time.monotonic()
    for proc in workers:
        proc.start()
    timeline, peak_rss, peak_cg = [], 0, {}
    deadline = started + cfg["open_s"] + cfg["timeout_s"] + 30
    while shared["finished"].value < len(workers) and time.monotonic() < deadline:
        time.sleep(1)
        timeline.append({"t": round(time.monotonic() - started, 1), "opened": shared["opened"].value,
                         "errors": shared["errors"].value})
    # At the top: hold, and read the memory while every session is open.
    hold_until = time.monotonic() + cfg["hold_s"]
    top = {}
    while True:
        procs_now = nginx_procs(fleet).get(instance, {})
        if procs_now.get("rss_kb", 0) >= peak_rss:
            peak_rss, top = procs_now.get("rss_kb", 0), procs_now
        peak_cg = max(peak_cg, container_memory(fleet["master"]["name"]), key=lambda m: m.get("usage_mib", 0))
        if time.monotonic() >= hold_until:
            break
        time.sleep(1)
    at_backend = backend_stats(backend) if backend else {}
    shared["release"].set()
    parts = []
    for dummy in workers:
        try:
            parts.append(results.get(timeout=hold_max))
        except Exception:  # queue.Empty: a process that never answered
            parts.append({"opened": 0, "held": 0, "errors": {"client gave no result": 1}})
    for proc in workers:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
    errors = collections.Counter()
    for part in parts:
        errors.update(part.get("errors", {}))
    opened = sum(p.get("opened", 0) for p in parts)
    held = sum(p.get("held", 0) for p in parts)
    worker_rss = {w["pid"]: w["rss_kb"] for w in top.get("workers", [])}
    return {
        "name": name, "instance": instance, "asked": count, "opened": opened, "held": held,
        "errors": sum(errors.values()), "error_kinds": dict(errors),
        "stopped": sorted({p.get("stopped") for p in parts if p.get("stopped")}),
        "seconds": round(time.monotonic() - started, 1),
        "nginx_rss_mib_before": round(before.get("rss_kb", 0) / 1024, 1),
        "nginx_rss_mib_peak": round(peak_rss / 1024, 1),
        "nginx_worker_rss_kb": worker_rss,
        "master_container_memory_peak": peak_cg,
        "backend_at_top": at_backend,
        "handshake_p50_ms": sorted(p.get("handshake_p50_ms") or 0 for p in parts)[len(parts) // 2] if parts else None,
        "timeline": timeline[-30:],
    }


def _settle(backend: dict | None, seconds: float = 30) -> None:
    """Wait until the backend has seen the last ramp's sessions close."""
    until = time.monotonic() + seconds
    while backend and time.monotonic() < until and backend_stats(backend).get("open", 0) > 0:
        time.sleep(0.5)
    time.sleep(1)


# --------------------------------------------------------------------------- the measurement

def run(fleet: dict, smoke: bool = False) -> dict:
    cfg = SMOKE if smoke else FULL
    child = fleet["children"][0]
    details: dict = {"config": cfg}
    ramps = {}
    budget = 4 * (cfg["open_s"] + cfg["timeout_s"] + cfg["hold_s"] + 120) + 600
    start_backend(fleet, child, budget)
    try:
        details["master_playbook_s"] = configure_master(fleet, with_echo=True)["seconds"]
        details["worker_settings"] = worker_settings(fleet)
        start_peer(fleet)
        try:
            echo_path, app_path = ECHO["path"], fleet["app"]["path"] + "_stcore/stream"
            port = int(fleet["master"].get("port", 80))
            plan = [
                ("echo", "tuned", port, echo_path, cfg["echo"], cfg["echo_rate"], [], child),
                ("echo", "peer", PEER_PORT, echo_path, cfg["echo"], cfg["echo_rate"], [], child),
                ("streamlit", "tuned", port, app_path, cfg["streamlit"], cfg["streamlit_rate"],
                 STREAMLIT_SUBPROTOCOLS, None),
                ("streamlit", "peer", PEER_PORT, app_path, cfg["streamlit"], cfg["streamlit_rate"],
                 STREAMLIT_SUBPROTOCOLS, None),
            ]
            for kind, instance, port_, path, count, rate, subprotocols, backend in plan:
                ramps[f"{kind}-{instance}"] = ramp(fleet, cfg, kind, instance, port_, path, count, rate,
                                                   subprotocols, backend)
                _settle(backend)
            details["peer_worker_connections_errors"] = count_log(fleet, f"{PEER_DIR}/error.log",
                                                                  "worker_connections are not enough")
            procs = nginx_procs(fleet)
        finally:
            stop_peer(fleet)
        details["tuned_worker_connections_errors"] = count_log(fleet, "/var/log/nginx/error.log",
                                                               "worker_connections are not enough")
        details["tuned_setrlimit_errors"] = count_log(fleet, "/var/log/nginx/error.log", "setrlimit")
    finally:
        stop_backend(child)
    try:
        configure_master(fleet, with_echo=False)
        details["master_restored"] = True
    except RuntimeError as exc:
        details["master_restored"] = str(exc)
    details["ramps"] = ramps

    # A worker's setrlimit sets soft and hard to worker_rlimit_nofile; the limit
    # it must stay within is the hard limit Nginx's master was started with.
    tuned_workers = procs.get("tuned", {}).get("workers", [])
    master_hard = (procs.get("tuned", {}).get("master_nofile") or [None, None])[1]
    hard = int(master_hard) if (master_hard or "").isdigit() else None
    soft = min((int(w["nofile_soft"]) for w in tuned_workers if (w["nofile_soft"] or "").isdigit()), default=None)
    configured = details["worker_settings"].get("worker_rlimit_nofile")
    details["tuned_workers_nofile"] = {"worker_limit": soft, "master_hard_limit": hard, "configured": configured,
                                       "workers": len(tuned_workers)}

    rows = []
    for kind, label in (("echo", "idle WebSocket sessions held, light backend"),
                        ("streamlit", "idle Streamlit sessions held")):
        tuned, peer = ramps[f"{kind}-tuned"], ramps[f"{kind}-peer"]
        rows.append(fl.row(f"{label} ({tuned['asked']:,} asked)", tuned["held"], "sessions",
                           "stock Debian workers (768 connections)", peer["held"],
                           f"{tuned['asked']:,} held, 0 errors",
                           tuned["held"] == tuned["asked"] and tuned["errors"] == 0))
        rows.append(fl.row(f"{label}: errors", tuned["errors"], "errors", "stock Debian workers", peer["errors"],
                           "0", tuned["errors"] == 0, ratio="-"))
        rows.append(fl.row(f"{label}: master Nginx RSS at the top", tuned["nginx_rss_mib_peak"], "MiB",
                           "stock Debian workers, at its top", peer["nginx_rss_mib_peak"], "reported", None))
    configured_n = int(configured) if configured and configured.isdigit() else None
    rows.append(fl.row("worker_rlimit_nofile of the tuned Nginx", configured_n if configured_n else soft, "files",
                       "hard open-file limit of the Nginx master", hard, "<= hard limit, in force",
                       bool(hard and soft and (configured_n or soft) <= hard
                            and (configured_n is None or soft == configured_n))))
    return {"title": "Concurrent sessions held by the master", "rows": rows, "details": details}


if __name__ == "__main__":
    fl.cli(run, __doc__.splitlines()[0])

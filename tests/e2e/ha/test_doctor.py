"""The doctor (issue 12) diagnoses, not just passes.

The doctor playbook runs from the checkout with no inventory, as a user runs
it, against:
- the deployed master (https, both apps): every check passes;
- hand-written Nginx servers on the master, added for this module on ports
  of their own. One is correct (the positive control); each other one is
  that server with one thing broken, and must fail exactly the check that
  owns the cause, with a fix that names the setting.

Two extra containers of the demo image run on the first child for the
causes that are Streamlit settings: a ping interval of 100 s (the idle
timeout) and server.enableCORS=true (the origin check against the Host).
Everything added is removed at the end, and Nginx reloaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hosts import ROOT, nginx_dump, on

CONF = "/etc/nginx/conf.d/zz-streamlit-ops-e2e-doctor.conf"
IMAGE = "streamlit-ops-demo:1.0"
EXTRA = {  # name: (published port, Streamlit settings)
    "doctor-e2e-ping100": (8597, {"STREAMLIT_SERVER_WEBSOCKET_PING_INTERVAL": "100"}),
    "doctor-e2e-cors": (8598, {"STREAMLIT_SERVER_ENABLE_CORS": "true"}),
}
IDLE_S = 45  # above the broken server's proxy_read_timeout 30s


def location(upstream: str, *, drop: tuple = (), extra: str = "", uri: str = "") -> str:
    """The app's location as a careful hand-written config has it, without
    the directives named in drop, plus extra."""
    lines = {
        "pass": f"proxy_pass http://{upstream}{uri};",
        "version": "proxy_http_version 1.1;",
        "upgrade": "proxy_set_header Upgrade $http_upgrade;",
        "connection": "proxy_set_header Connection $e2e_doctor_connection;",
        "host": "proxy_set_header Host $http_host;",
        "proto": "proxy_set_header X-Forwarded-Proto $scheme;",
        "body": "client_max_body_size 60m;",
        "read": "proxy_read_timeout 150s;",
        "gzip": "gzip on; gzip_proxied any; gzip_types application/javascript text/css;",
        "relative": "absolute_redirect off;",
    }
    body = "\n        ".join(line for key, line in lines.items() if key not in drop)
    return f"    location /app/ {{\n        {body}\n        {extra}\n    }}\n"


def servers(main_backends: list[str], child_address: str, tls: tuple[str, str]) -> tuple[dict[str, int], str]:
    """({case: port}, the whole configuration file)."""
    cert, key = tls
    plain = "listen {port};\n    server_name streamlit.test;\n"
    cases = {
        "good": (9100, "sticky", {}),
        "no_upgrade_headers": (9101, "sticky", {"drop": ("upgrade", "connection")}),
        "prefix_stripped": (9102, "sticky", {"uri": "/"}),
        "body_limit_1m": (9103, "sticky", {"drop": ("body",), "extra": "client_max_body_size 1m;"}),
        "round_robin": (9104, "round_robin", {}),
        "idle_30s": (9105, "ping100", {"drop": ("read",), "extra": "proxy_read_timeout 30s;"}),
        "idle_control": (9106, "ping100", {}),
        "cors_proxy_host": (9107, "cors", {"drop": ("host",), "extra": "proxy_set_header Host $proxy_host;"}),
    }
    out = {}
    for case, (port, upstream, change) in cases.items():
        out[case] = (port, "server {\n    " + plain.format(port=port) + location(f"e2e_doctor_{upstream}", **change) + "}\n")
    # Over https, the slash redirect written by hand with http://.
    out["http_redirect"] = (9108, (
        "server {\n    listen 9108 ssl;\n    server_name streamlit.test;\n"
        f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
        "    location = /app { return 301 http://$host/app/; }\n"
        + location("e2e_doctor_sticky") + "}\n"))
    head = "map $http_upgrade $e2e_doctor_connection { default upgrade; '' ''; }\n"
    # Sticky by the cookie each location sets (userid), as nginx_proxy does.
    head += "upstream e2e_doctor_sticky {\n    hash $uid_got$uid_set consistent;\n"
    head += "".join(f"    server {b};\n" for b in main_backends) + "}\n"
    head += "upstream e2e_doctor_round_robin {\n" + "".join(f"    server {b};\n" for b in main_backends) + "}\n"
    head += f"upstream e2e_doctor_ping100 {{\n    server {child_address}:{EXTRA['doctor-e2e-ping100'][0]};\n}}\n"
    head += f"upstream e2e_doctor_cors {{\n    server {child_address}:{EXTRA['doctor-e2e-cors'][0]};\n}}\n"
    config = head + "".join(entry[1] for entry in out.values())
    config = config.replace("location /app/ {\n", "location /app/ {\n        userid on; userid_name e2e_doctor; userid_path /app/;\n")
    return {case: entry[0] for case, entry in out.items()}, config


def run_doctor(url: str, master_address: str, cafile: str, report: Path, *extra: str) -> tuple[int, str, dict]:
    """The doctor playbook from the checkout, as a user runs it: (rc, output, report)."""
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "doctor.yml", "-e", f"doctor_url={url}",
           "-e", f"doctor_connect_address={master_address}", "-e", f"doctor_ca_path={cafile}",
           "-e", f"doctor_report={report}", *extra]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False)
    data = json.loads(report.read_text()) if report.exists() else {}
    return result.returncode, result.stdout + result.stderr, data


@pytest.fixture(scope="module")
def lab(master, children, child_addresses, tmp_path_factory):
    """The extra containers and servers; removed at the end whatever happens."""
    child = children[0]
    for name, (port, env) in EXTRA.items():
        on(child, "docker", "rm", "-f", name, check=False)
        settings = {"STREAMLIT_SERVER_BASE_URL_PATH": "app", "STREAMLIT_SERVER_HEADLESS": "true",
                    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **env}
        args = [arg for key, value in settings.items() for arg in ("-e", f"{key}={value}")]
        on(child, "docker", "run", "-d", "--name", name, "-p", f"{child_addresses[0]}:{port}:8501", *args, IMAGE)
    dump = nginx_dump(master)
    cert = re.search(r"^\s*ssl_certificate\s+(\S+);", dump, re.M).group(1)
    key = re.search(r"^\s*ssl_certificate_key\s+(\S+);", dump, re.M).group(1)
    main_backends = sorted(set(re.findall(r"server (\d+\.\d+\.\d+\.\d+:8501) ", dump)))
    assert len(main_backends) == 2, dump[-2000:]
    ports, config = servers(main_backends, child_addresses[0], (cert, key))
    subprocess.run(["docker", "exec", "-i", master, "sh", "-c", f"cat > {CONF}"], input=config, text=True, check=True, timeout=60)
    try:
        reload = on(master, "sh", "-c", "nginx -t && systemctl reload nginx", check=False)
        assert reload.returncode == 0, reload.stdout + reload.stderr + config
        # Bounded wait until both extra apps answer their health check.
        deadline = time.monotonic() + 90
        for name, (port, dummy) in EXTRA.items():
            probe = f"import urllib.request; urllib.request.urlopen('http://{child_addresses[0]}:{port}/app/_stcore/health', timeout=3)"
            while on(master, "python3", "-c", probe, check=False).returncode != 0:
                assert time.monotonic() < deadline, f"{name} did not start: {on(child, 'docker', 'logs', name, check=False).stdout[-1500:]}"
                time.sleep(1)
        yield ports, tmp_path_factory.mktemp("doctor")
    finally:
        on(master, "sh", "-c", f"rm -f {CONF} && nginx -t && systemctl reload nginx", check=False)
        for name in EXTRA:
            on(child, "docker", "rm", "-f", name, check=False)


@pytest.fixture(scope="module")
def reports(lab, app_url, strict_url, master_address, cafile):
    """Every doctor run at once (the idle ones wait IDLE_S): {case: (rc, output, report)}."""
    ports, tmp = lab
    runs = {
        "deployed": (app_url, ()),
        "deployed_strict": (strict_url, ("-e", "doctor_expect_origin=guarded")),
    }
    for case, port in ports.items():
        scheme = "https" if case == "http_redirect" else "http"
        extra = ()
        if case.startswith("idle") or case == "good":
            extra = ("-e", f"doctor_idle_s={IDLE_S}")
        if case in ("body_limit_1m", "good"):
            extra += ("-e", "doctor_upload_mb=2")
        runs[case] = (f"{scheme}://streamlit.test:{port}/app/", extra)
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        futures = {case: pool.submit(run_doctor, url, master_address, cafile, tmp / f"{case}.json", *extra)
                   for case, (url, extra) in runs.items()}
        return {case: future.result() for case, future in futures.items()}


def failed(report: dict) -> set[str]:
    return {name for name, entry in report.items() if entry["result"] == "fail"}


@pytest.mark.parametrize("case", ["deployed", "deployed_strict", "good", "idle_control"])
def test_a_correct_deployment_passes_every_check(reports, case):
    rc, out, report = reports[case]
    assert rc == 0 and report, out[-3000:]
    assert failed(report) == set(), json.dumps(report, indent=1)
    core = {"page", "health", "websocket", "origin", "upload", "sticky", "compression", "intermediaries"}
    assert core <= {name for name, entry in report.items() if entry["result"] == "pass"}, json.dumps(report, indent=1)
    # The table is printed; https deployments are checked for downgrades too.
    assert "CHECK" in out and "EVIDENCE" in out, out[-3000:]
    if case.startswith("deployed"):
        assert report["scheme"]["result"] == "pass", report["scheme"]
    if case in ("good", "idle_control"):
        assert report["idle"]["result"] == "pass", report["idle"]
    if case == "deployed_strict":
        assert report["origin"]["details"]["policy"] in ("same-origin", "allow-list"), report["origin"]


# case: (the one check that fails, words its fix must hold)
BROKEN = {
    "no_upgrade_headers": ("websocket", ("proxy_set_header Upgrade", "Connection")),
    "prefix_stripped": ("health", ("proxy_pass", "baseUrlPath")),
    "body_limit_1m": ("upload", ("client_max_body_size",)),
    "round_robin": ("sticky", ("sticky", "hash on a cookie")),
    "idle_30s": ("idle", ("server.websocketPingInterval", "proxy_read_timeout")),
    "cors_proxy_host": ("websocket", ("server.enableCORS", "Host $host")),
    "http_redirect": ("scheme", ("X-Forwarded-Proto", "absolute_redirect")),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_setup_fails_exactly_its_check(reports, case):
    check, words = BROKEN[case]
    rc, out, report = reports[case]
    assert rc != 0, out[-3000:]
    assert failed(report) == {check}, json.dumps(report, indent=1)
    for word in words:
        assert word in report[check]["fix"], report[check]
    # The run's failure names the check and its fix.
    assert f"{check}: " in out, out[-3000:]


def test_the_answers_behind_the_diagnoses(reports):
    """What each broken server answered, as the evidence reports it."""
    assert "answered 200" in reports["no_upgrade_headers"][2]["websocket"]["evidence"]
    assert "answered 403" in reports["cors_proxy_host"][2]["websocket"]["evidence"]
    assert "413" in reports["body_limit_1m"][2]["upload"]["evidence"]
    assert "/app/app/_stcore/health answered ok" in reports["prefix_stripped"][2]["health"]["evidence"]
    # Nginx's 30 s timer, and the second or two a loaded machine adds before the close is read.
    assert re.search(r"closed after 3[0-3] s idle", reports["idle_30s"][2]["idle"]["evidence"]), reports["idle_30s"][2]["idle"]
    assert "http://streamlit.test/app/" in reports["http_redirect"][2]["scheme"]["evidence"]
    # Round robin: the sessions that upload on another replica are counted.
    assert re.match(r"\d+ of 8 fresh sessions", reports["round_robin"][2]["sticky"]["evidence"])

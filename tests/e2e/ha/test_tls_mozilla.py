"""The master's TLS against Mozilla's "intermediate" guideline, by sslyze's own
check (`sslyze --mozilla_config=intermediate`, pip package sslyze).

The scenario's certificate is self-signed (made in prepare), so sslyze's
certificate_path_validation can never pass here: that one finding is
expected and named; every other one (protocols, cipher suites, curves, key
size, lifespan, renegotiation, ...) must be clean. The control is a local
Nginx on loopback with the same certificate and the role's ciphers, plus
TLS 1.0 and 1.1 as Debian bookworm's stock nginx.conf lists them: the same
check must fail it on tls_versions.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SELF_SIGNED = {"certificate_path_validation"}
# The role's TLS 1.2 suites (roles/nginx_proxy/vars/main.yml).
ROLE_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


def sslyze() -> str:
    found = shutil.which("sslyze", path=str(Path(sys.executable).parent)) or shutil.which("sslyze")
    assert found, "sslyze is not installed: pip install -r requirements.txt (it lists sslyze)"
    return found


def mozilla_findings(target: str, server_name: str, port: int) -> tuple[str, set[str]]:
    """sslyze's intermediate check of server_name:port reached at target: (its report, the failed rule names)."""
    result = subprocess.run([sslyze(), "--mozilla_config=intermediate", f"{server_name}:{port}{{{target}}}"],
                            capture_output=True, text=True, timeout=300, check=False)
    report = result.stdout + result.stderr
    assert "COMPLIANCE AGAINST TLS CONFIGURATION" in report, report[-3000:]
    verdict = report.split("COMPLIANCE AGAINST TLS CONFIGURATION", 1)[1]
    findings = set(re.findall(r"^\s*\* (\w+):", verdict, re.M))
    compliant = re.search(r": OK - Compliant", verdict) is not None
    assert compliant == (not findings) == (result.returncode == 0), report[-3000:]
    return report, findings


def test_master_meets_mozilla_intermediate(master_address, server_name):
    report, findings = mozilla_findings(master_address, server_name, 443)
    assert findings <= SELF_SIGNED, report[-3000:]


@pytest.fixture
def legacy_nginx(tmp_path, cafile):
    """A local Nginx on loopback: the master's certificate and ciphers, TLS 1.0 to 1.3."""
    key = Path(cafile).with_suffix(".key")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    temp = "".join(f"    {kind}_temp_path {tmp_path / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\nhttp {{\n{temp}"
        f"    access_log off;\n    server {{\n        listen 127.0.0.1:{port} ssl;\n"
        f"        ssl_certificate {cafile};\n        ssl_certificate_key {key};\n"
        # TLS 1.0 needs a CBC suite, and OpenSSL's security level 0 to offer it.
        f"        ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n        ssl_ciphers {ROLE_CIPHERS}:ECDHE-RSA-AES128-SHA:@SECLEVEL=0;\n"
        "        ssl_ecdh_curve X25519:prime256v1:secp384r1;\n        ssl_prefer_server_ciphers off;\n        return 200;\n    }\n}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf), "-g", "daemon off;"],
                               stderr=subprocess.PIPE, text=True)
    try:
        for dummy in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_control_tls_1_0_fails_the_same_check(legacy_nginx, server_name):
    report, findings = mozilla_findings("127.0.0.1", server_name, legacy_nginx)
    assert "tls_versions" in findings, report[-3000:]
    assert "TLSv1" in report.split("tls_versions", 1)[1].split("\n", 1)[0]

"""What the end-to-end tests look at on the test hosts, through `docker exec`,
and how they run the checkout's playbooks against them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).resolve().parent / "snapshot.py"
RECAP = re.compile(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", re.M)
LABEL = "streamlit_ops.deploy.app"
# The run lock the site playbook takes on the first master (run_lock's default path).
LOCK = "/run/streamlit_ops_deploy.lock"
# The banner of the streamlit_app role's host read: once in a site run whose read before the run lock stands,
# twice where the run reads the children again after taking the lock.
HOST_READ = "TASK [streamlit_ops.deploy.streamlit_app : facts | Read the host's"
# The streamlit_app role's preview of a rolling update asks its service step in
# check mode only where the host read cannot tell, and in a check run.
PREVIEW_ASKS = "preview | Run the service step in check mode"


def task_output(output: str, name: str) -> str:
    """What a playbook run printed for the first task whose banner holds name, up to the next banner."""
    found = re.search(r"TASK \[[^\]]*" + re.escape(name) + r"[^\]]*\].*?(?=\n(?:TASK|PLAY) \[|\Z)", output, re.S)
    return found.group(0) if found else ""


def inventory_hosts(inventory: str) -> dict:
    """The master, the children, the apps and the other settings of an
    inventory, as ansible-inventory --list reads them."""
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", inventory, "--list"],
                         capture_output=True, text=True, check=True, timeout=120)
    data = json.loads(out.stdout)
    master = data["streamlit_master"]["hosts"][0]
    hostvars = data["_meta"]["hostvars"][master]
    return {
        "master": master,
        "children": data["streamlit_children"]["hosts"],
        "apps": hostvars["streamlit_ops_apps"],
        # The settings besides the apps (the public URL, the trusted proxies...).
        "settings": {k: v for k, v in hostvars.items()
                     if k.startswith(("streamlit_ops_", "streamlit_app_", "nginx_proxy_")) and k != "streamlit_ops_apps"},
    }


def on(host: str, *cmd: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", host, *cmd], capture_output=True, text=True, timeout=timeout, check=check)


def snapshot(host: str, paths) -> dict:
    """{path: [kind, sha256 or link target]} as snapshot.py sees it on the host."""
    result = subprocess.run(
        ["docker", "exec", "-i", host, "python3", "-", *paths],
        input=SNAPSHOT.read_text(), capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(result.stdout)


def nginx_dump(master: str) -> str:
    return on(master, "nginx", "-T").stdout


def files_of(dump: str) -> dict[str, str]:
    """nginx -T output split into {file: text}."""
    chunks = ("\n" + dump).split("\n# configuration file ")[1:]
    return {chunk.split("\n", 1)[0].rstrip(":"): chunk.split("\n", 1)[1] if "\n" in chunk else "" for chunk in chunks}


def blocks_per_file(dump: str, name: str) -> dict[str, int]:
    """How many `name {` blocks (server, location, ...) each loaded file opens."""
    pattern = re.compile(rf"(?m)^[ \t]*{name}\b[^;{{]*\{{")
    return {path: len(pattern.findall(text)) for path, text in files_of(dump).items() if pattern.search(text)}


def containers(child: str, *filters: str) -> list[str]:
    args = ["docker", "ps", "-a", "--format", "{{.Names}}"]
    for item in filters:
        args += ["--filter", item]
    return on(child, *args).stdout.split()


def images(child: str) -> list[str]:
    return on(child, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()


def at_once(children: list[str]) -> tuple[str, ...]:
    """site.yml arguments that replace every child in one batch, with no drain
    wait: for the runs that set up or put back a check's deployment, where the
    rolling update itself is not what is checked (tests/e2e/ha/test_rolling.py
    checks that). One batch instead of one per child: a rollout less per run."""
    return ("-e", f"streamlit_ops_rolling_batch={len(children)}", "-e", "streamlit_ops_drain_timeout=0")


def playbook(name: str, inventory: str, *args: str, timeout: float = 900):
    """Run a playbook of the checkout: (rc, output, {host: changed})."""
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), name, "-i", inventory, *args]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    changed = {host: int(count) for host, count in RECAP.findall(result.stdout)}
    return result.returncode, result.stdout + result.stderr, changed


def nginx_test_copy(master: str, drop: str | None = None) -> subprocess.CompletedProcess:
    """`nginx -t` on a copy of /etc/nginx (absolute paths rewritten into the
    copy), optionally without one file: what the live config would do,
    without touching it."""
    script = (
        "set -e; t=$(mktemp -d); trap 'rm -rf \"$t\"' EXIT; cp -rL /etc/nginx/. \"$t\"/; "
        "grep -rlZ /etc/nginx/ \"$t\" | xargs -0 -r sed -i \"s#/etc/nginx/#$t/#g\"; "
        + (f"rm -f \"$t\"/{drop.removeprefix('/etc/nginx/')}; " if drop else "")
        + "nginx -t -c \"$t\"/nginx.conf"
    )
    return on(master, "sh", "-c", script, check=False)

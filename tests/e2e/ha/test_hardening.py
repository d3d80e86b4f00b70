"""The app containers are hardened by default, as docker inspect shows on each
child, and the app still works: pages, the WebSocket and uploads (spooled to
the /tmp tmpfs) through the master. Each check is run on a container that
was not hardened too, which it must flag."""

import json
import subprocess

import pytest

from stclient import fresh_session

CONTROL = "streamlit-ops-hardening-control"


def on(host, *cmd, check=True):
    return subprocess.run(["docker", "exec", host, *cmd], capture_output=True, text=True, timeout=120, check=check)


def inspect(host, name) -> dict:
    return json.loads(on(host, "docker", "inspect", name).stdout)[0]


def hardening_gaps(container: dict) -> list[str]:
    """What the defaults promise and this container lacks."""
    host = container["HostConfig"]
    gaps = []
    if not host.get("ReadonlyRootfs"):
        gaps.append("root filesystem writable")
    if "/tmp" not in (host.get("Tmpfs") or {}):
        gaps.append("no tmpfs on /tmp")
    if "no-new-privileges" not in (host.get("SecurityOpt") or []):
        gaps.append("no no-new-privileges")
    if host.get("CapDrop") != ["ALL"]:
        gaps.append(f"capabilities dropped: {host.get('CapDrop')}")
    if not host.get("PidsLimit") or host["PidsLimit"] <= 0:
        gaps.append(f"pids limit {host.get('PidsLimit')}")
    return gaps


@pytest.fixture(scope="module")
def containers(children, apps):
    return [(child, f"streamlit-{app['name']}") for child in children for app in apps]


@pytest.fixture(scope="module")
def control(children, containers):
    """A container of the same image as the apps, started the way Docker starts one by default."""
    child, name = containers[0]
    image = inspect(child, name)["Config"]["Image"]
    on(child, "docker", "rm", "-f", CONTROL, check=False)
    on(child, "docker", "run", "-d", "--name", CONTROL, "--network", "none", image)
    yield child, CONTROL
    on(child, "docker", "rm", "-f", CONTROL, check=False)


def test_every_app_container_is_hardened(containers):
    gaps = {f"{child}/{name}": hardening_gaps(inspect(child, name)) for child, name in containers}
    assert not any(gaps.values()), gaps
    # The pids limit is the spec's default.
    assert {inspect(child, name)["HostConfig"]["PidsLimit"] for child, name in containers} == {1024}


def test_control_a_default_container_is_flagged(control):
    child, name = control
    assert len(hardening_gaps(inspect(child, name))) == 5


def _probe(child, name) -> dict:
    """What the app process can do, from inside its container (as its own user)."""
    script = "\n".join([
        'touch "$HOME/.probe" 2>/dev/null && echo root=rw || echo root=ro',
        "touch /tmp/probe 2>/dev/null && echo tmp=rw || echo tmp=ro",
        "grep -E '^(CapBnd|NoNewPrivs):' /proc/1/status",
    ])
    out = on(child, "docker", "exec", name, "sh", "-c", script).stdout
    return dict(line.replace(":", "=", 1).replace("\t", "").split("=", 1) for line in out.split("\n") if line.strip())


def test_inside_the_app_only_tmp_is_writable_and_no_privilege_is_left(containers, control):
    child, name = containers[0]
    seen = _probe(child, name)
    assert seen == {"root": "ro", "tmp": "rw", "CapBnd": "0000000000000000", "NoNewPrivs": "1"}, seen
    # The control: Docker's defaults leave all three open (CapBnd: a non-root
    # process has no effective capabilities either way, but may gain them back).
    default = _probe(*control)
    assert default["root"] == "rw" and default["CapBnd"] != "0000000000000000" and default["NoNewPrivs"] == "0", default


def test_the_app_works_read_only_uploads_included(app_url, cafile):
    """Uploads are spooled to /tmp: without its tmpfs a 3 MB upload answers 500 (measured)."""
    session = fresh_session(app_url, cafile, upload_size=3 * 1024 * 1024)
    assert session.page == 200 and session.websocket == 101 and session.upload == 204, str(session)

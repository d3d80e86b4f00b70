"""No secret in the output of `site.yml -vvv --diff`, on success and on the
failure paths: planted sentinels for the cookie secret, the content of a
secrets_file and the registry password, and the TLS key's own lines.

Runs, each with every sentinel planted:
1. success: the main app gets the sentinel cookie secret and secrets file
   (its containers are recreated) and the master copies the TLS key again;
   this is the rolling test's control run, shared (site_runs.py);
2. a registry login that fails: an app with pull: always from a registry
   that refuses connections;
3. a health check that fails: an app whose container never serves.
In the failing runs the sentinels ride on the failing app itself, beside the
scenario's apps as they are: the scenario's containers are then recreated
neither by those runs nor by the run that converges back.
Each output must also hold a marker that the run prints for sure (the
control: the capture and the search can find what is there), and a failure
must still say what failed. The last step converges the scenario again.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hosts import at_once, task_output
from sentinels import COOKIE, FILE, PASSWORD, TOKEN

ROOT = Path(__file__).resolve().parents[3]


def run_site(inventory, *args, extra=None) -> tuple[int, str]:
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "site.yml", "-i", inventory, *args]
    if extra is not None:
        cmd += ["-e", json.dumps(extra)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200, env=env, check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def key_lines(inventory, master) -> list[str]:
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", inventory, "--host", master],
                         capture_output=True, text=True, check=True, timeout=120)
    key = Path(json.loads(out.stdout)["nginx_proxy_tls_certificate_key"]).read_text()
    # The base64 lines of the PEM body: any of them in the output is a leak.
    return [line for line in key.splitlines() if line and not line.startswith("-----")]


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """The sentinel cookie secret and secrets file, for the failing app to carry."""
    path = tmp_path_factory.mktemp("sentinels") / "secrets.toml"
    path.write_text(f'token = "{FILE}"\n')
    return {"cookie_secret": COOKIE, "secrets_file": str(path)}


def leaks(output: str, key_lines: list[str], artifacts=None, name="") -> list[str]:
    if artifacts is not None:  # the whole output, to read a leak in context
        (artifacts / f"sentinels-{name}.log").write_text(output)
    found = [name for name, value in (("cookie secret", COOKIE), ("secrets file", FILE), ("registry password", PASSWORD))
             if value in output]
    found += ["TLS key line"] * any(line in output for line in key_lines)
    return found


@pytest.fixture(scope="module")
def converged_after(inventory, children):
    yield
    rc, out = run_site(inventory, *at_once(children))
    assert rc == 0, out[-3000:]


def test_success_shows_no_secret(site_runs, key_lines):
    # The shared run took the master's key away first, so that it is copied again.
    out = site_runs.control.output
    found = leaks(out, key_lines)
    assert site_runs.key_removed and site_runs.planted_secrets_file, "the shared run planted nothing"
    assert site_runs.control.rc == 0, out[-3000:]
    assert "changed: [" in task_output(out, "Copy the TLS key"), "the key was not copied: the run proves nothing for it"
    assert "/var/lib/streamlit_app/secrets/main" in out  # the control: what the run prints is there
    assert found == []


def test_a_failed_registry_login_shows_no_password(inventory, children, apps, planted, key_lines, converged_after, artifacts):
    app = {"name": "sentinel-registry", "path": "/sentinel-registry/", "image": f"127.0.0.1:1/visible{TOKEN}:1", "port": 8599,
           "pull": "always", "hosts": [children[0]], **planted,
           "registry": {"url": "127.0.0.1:1", "username": "sentinel", "password": PASSWORD}}
    rc, out = run_site(inventory, "-vvv", "--diff", extra={"streamlit_ops_apps": [*apps, app]})
    found = leaks(out, key_lines, artifacts, "registry")
    assert rc != 0, out[-3000:]
    assert "Logging in failed at one of 127.0.0.1:1" in out, out[-3000:]  # still says what failed
    assert found == []


def test_a_failed_health_check_shows_no_secret(inventory, children, apps, planted, key_lines, converged_after, artifacts):
    main = next(app for app in apps if app["name"] == "main")
    app = {"name": "sentinel-health", "path": "/sentinel-health/", "image": main["image"], "port": 8598,
           "command": ["sleep", "600"], "hosts": [children[0]], **planted}
    if main.get("image_archive"):
        app["image_archive"] = main["image_archive"]
    rc, out = run_site(inventory, "-vvv", "--diff", extra={"streamlit_ops_apps": [*apps, app], "streamlit_app_health_timeout": 8})
    found = leaks(out, key_lines, artifacts, "health")
    assert rc != 0, out[-3000:]
    assert "sentinel-health did not become healthy within 8 s" in out, out[-3000:]
    assert found == []


REGISTRY_PORT = 5999


@pytest.fixture
def fake_registry(children):
    """A registry on the child's loopback that accepts any login (GET /v2/ answers 200) and holds no image.

    Docker treats 127.0.0.0/8 as an insecure registry, so plain HTTP does.
    """
    child = children[0]
    script = (f"mkdir -p /tmp/fake-registry/v2 && echo ok > /tmp/fake-registry/v2/index.html && cd /tmp/fake-registry && "
              f"echo $$ > pid && exec python3 -m http.server {REGISTRY_PORT} --bind 127.0.0.1")
    server = subprocess.Popen(["docker", "exec", child, "sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        yield child, f"127.0.0.1:{REGISTRY_PORT}"
    finally:
        subprocess.run(["docker", "exec", child, "sh", "-c", "kill $(cat /tmp/fake-registry/pid); rm -rf /tmp/fake-registry"],
                       check=False, timeout=60)
        server.wait(timeout=30)


def docker_config(child) -> str:
    return subprocess.run(["docker", "exec", child, "sh", "-c", "cat /root/.docker/config.json 2>/dev/null || true"],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def test_registry_credentials_do_not_stay_after_a_failed_pull(inventory, apps, planted, key_lines, fake_registry, converged_after, artifacts):
    child, registry = fake_registry
    # The control: the fake registry takes a login, and the config then shows it.
    subprocess.run(["docker", "exec", child, "docker", "login", registry, "-u", "control", "-p", "control"],
                   capture_output=True, text=True, check=True, timeout=60)
    assert registry in docker_config(child)
    subprocess.run(["docker", "exec", child, "docker", "logout", registry], capture_output=True, check=True, timeout=60)
    assert registry not in docker_config(child)
    app = {"name": "sentinel-login", "path": "/sentinel-login/", "image": f"{registry}/absent:1", "port": 8597,
           "pull": "always", "hosts": [child], **planted,
           "registry": {"url": registry, "username": "sentinel", "password": PASSWORD}}
    rc, out = run_site(inventory, "-vvv", "--diff", extra={"streamlit_ops_apps": [*apps, app]})
    found = leaks(out, key_lines, artifacts, "login")
    assert rc != 0, out[-3000:]
    assert "Log out of the registries again" in out and f"{registry}/absent:1" in out, out[-3000:]  # the pull failed, logout ran
    assert registry not in docker_config(child), docker_config(child)
    assert found == []

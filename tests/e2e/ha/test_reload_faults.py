"""Nginx faults on the master (nginx_proxy, issue 11).

- A reload Nginx refuses at run time: the HTTPS port moved to one another
  process holds. `nginx -t` passes (it binds nothing), the reload's new
  listener cannot bind, and Nginx's signal "succeeds" while the old
  configuration keeps serving. The run must fail naming the cause and put the
  previous configuration back.
- A failing smoke check (an app whose backends answer nothing) puts the
  previous configuration back and fails with the check's message; with the
  smoke check off the same run leaves the broken proxy in place (the control).
- Reloads under load: 0 failed page loads and handshakes while Nginx reloads
  several times; a restart under the same load fails some (the control).

Every test leaves the deployment as the scenario converges it; the two
HTTPS port checks, last here, share the site run that restores it.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import requests

from hosts import at_once, nginx_dump, on, playbook

BLOCKED_PORT = 8443
# Drives the nginx_proxy role alone on the master (the children untouched).
PROXY_ONLY = "tests/e2e/ha/playbooks/proxy_only.yml"


@pytest.fixture(scope="module")
def handshake(ask, paths, server_name):
    """The main app's upgrade with its own origin: 101 while the proxy serves it."""
    def handshake() -> int:
        return ask(paths["main"], f"https://{server_name}")
    return handshake


@pytest.fixture
def converged(inventory, master, children):
    """The master's configuration before the test, which must be in place again after it."""
    before = nginx_dump(master)
    yield before
    if nginx_dump(master) != before:
        rc, out, dummy = playbook("site.yml", inventory, *at_once(children))
        assert rc == 0, out[-3000:]
    assert nginx_dump(master) == before


@pytest.fixture(scope="module")
def https_port_restored(inventory, master, children):
    """The master's configuration before the HTTPS port checks (the run that
    fails and its control), put back by one site run after both: a new HTTPS
    port also changes the children (the strict app's public origin names it).
    These checks come last in this module, so this runs right after them."""
    before = nginx_dump(master)
    yield before
    rc, out, dummy = playbook("site.yml", inventory, *at_once(children))
    assert rc == 0, out[-3000:]
    assert nginx_dump(master) == before


@pytest.fixture
def port_taken(master):
    """Another process on the master listening on BLOCKED_PORT (no SO_REUSEPORT), for the test's duration."""
    script = (f"import socket,time; s=socket.socket(); s.bind(('0.0.0.0',{BLOCKED_PORT})); s.listen(); "
              "open('/tmp/xb-port-taken','w').write('ready'); time.sleep(600)")
    on(master, "rm", "-f", "/tmp/xb-port-taken")
    blocker = on(master, "sh", "-c", f"python3 -c \"{script}\" >/dev/null 2>&1 & echo $!").stdout.strip()
    for dummy in range(50):
        if on(master, "cat", "/tmp/xb-port-taken", check=False).stdout == "ready":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the port blocker did not start")
    try:
        yield
    finally:
        # kill is a shell builtin here: the test hosts have no procps.
        on(master, "sh", "-c", f"kill {blocker}", check=False)
        free = f"import socket; socket.socket().bind(('0.0.0.0', {BLOCKED_PORT}))"
        for dummy in range(50):
            if on(master, "python3", "-c", free, check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"port {BLOCKED_PORT} on {master} still taken after the test")


def dead_backend_apps(apps, child_addresses) -> list[dict]:
    """nginx_proxy_apps whose only backend is a port nothing listens on: nginx -t and the reload pass, the smoke check does not."""
    return [{"name": app["name"], "path": app.get("path") or f"/{app['name']}/", "backends": [f"{child_addresses[0]}:8599"],
             "sticky": "none"} for app in apps]


def test_failing_smoke_check_restores(converged, inventory, master, apps, child_addresses, handshake):
    rc, out, dummy = playbook(PROXY_ONLY, inventory, "-e", json.dumps({"nginx_proxy_apps": dead_backend_apps(apps, child_addresses)}))
    assert rc != 0, out[-3000:]
    assert "The previous Nginx configuration was restored because the smoke check through Nginx failed" in out, out[-3000:]
    # The doctor names the check and its cause: the page itself answers 502.
    assert re.search(r"page failed: /\w+/ answered 502", out), out[-3000:]
    assert nginx_dump(master) == converged
    assert handshake() == 101
    # Nothing of the failed run stays behind on the master.
    assert on(master, "ls", "/var/lib/nginx_proxy/previous_config.json", check=False).returncode != 0


def test_control_without_smoke_check_the_broken_proxy_stays(converged, inventory, master, apps, child_addresses, handshake):
    extra = {"nginx_proxy_apps": dead_backend_apps(apps, child_addresses), "nginx_proxy_smoke_check": False}
    rc, out, dummy = playbook(PROXY_ONLY, inventory, "-e", json.dumps(extra))
    assert rc == 0, out[-3000:]
    assert nginx_dump(master) != converged
    assert handshake() == 502


def load(app_url: str, cafile: str, handshake, stop: threading.Event, results: list) -> None:
    """New page loads and WebSocket handshakes, each a new connection, until stop."""
    while not stop.is_set():
        try:
            page = requests.get(app_url, verify=cafile, timeout=15).status_code
        except requests.RequestException as exc:
            page = repr(exc)
        try:
            status = handshake()
        except OSError as exc:
            status = repr(exc)
        results.append((page, status))


def under_load(app_url, cafile, handshake, action, workers: int = 4) -> list:
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=load, args=(app_url, cafile, handshake, stop, results)) for dummy in range(workers)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        action()
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return results


def test_reloads_under_load_fail_nothing(converged, master, app_url, cafile, handshake):
    def reloads():
        for dummy in range(5):
            on(master, "nginx", "-s", "reload")
            time.sleep(1.5)

    results = under_load(app_url, cafile, handshake, reloads)
    failed = [r for r in results if r != (200, 101)]
    print(f"reloads under load: {len(results)} page loads and {len(results)} handshakes, {len(failed)} failed")
    assert len(results) >= 20 and failed == [], failed[:10]


def test_control_a_restart_under_load_fails_some(converged, master, app_url, cafile, handshake):
    def restarts():
        for dummy in range(3):
            on(master, "systemctl", "restart", "nginx")
            time.sleep(0.5)

    results = under_load(app_url, cafile, handshake, restarts)
    failed = [r for r in results if r != (200, 101)]
    print(f"restarts under load: {len(results)} rounds, {len(failed)} failed")
    assert failed, "a restart under load failed nothing: the load cannot see an outage"


def test_runtime_reload_failure_fails_the_run_and_restores(https_port_restored, port_taken, inventory, master, children, handshake):
    converged = https_port_restored
    assert handshake() == 101
    rc, out, dummy = playbook("site.yml", inventory, *at_once(children), "-e", f"nginx_proxy_https_port={BLOCKED_PORT}")
    assert rc != 0, out[-3000:]
    # The cause, in Nginx's own words, and what was done about it.
    assert f"bind() to 0.0.0.0:{BLOCKED_PORT} failed (98: Address already in use)" in out, out[-3000:]
    assert "The previous configuration was restored" in out, out[-3000:]
    assert nginx_dump(master) == converged
    # Still serving, on the old listener.
    assert handshake() == 101


def test_control_the_same_change_applies_without_the_blocker(https_port_restored, inventory, master, children):
    """Without another process on the port the same run passes and moves the
    listener: the failure above is the taken port, not the change. The
    fixture converges the deployment back afterwards."""
    rc, out, dummy = playbook("site.yml", inventory, *at_once(children), "-e", f"nginx_proxy_https_port={BLOCKED_PORT}")
    assert rc == 0, out[-3000:]
    assert f"listen {BLOCKED_PORT} ssl" in nginx_dump(master)

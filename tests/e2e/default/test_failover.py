"""Losing a child: stop the child that served the browser's session; the app
must still load and react through the master."""

import os
import re
import subprocess
import time

import pytest
from checks import browser_session

LOG = "/var/log/nginx/streamlit_ops_deploy.access.log"


def docker(*args, timeout=120):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=True).stdout.strip()


def child_at(address, network_hosts):
    for name in network_hosts:
        if docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name).split()[0] == address:
            return name
    raise AssertionError(f"no test host has address {address}")


def wait_healthy(child, container="streamlit-demo", limit_s=180):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status = subprocess.run(
            ["docker", "exec", child, "docker", "inspect", "-f", "{{.State.Health.Status}}", container],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout.strip()
        if status == "healthy":
            return
        time.sleep(3)
    raise AssertionError(f"{container} on {child} not healthy after {limit_s} s")


def test_app_survives_losing_the_child_that_served_the_session(app_url, artifacts):
    master = os.environ.get("STREAMLIT_OPS_MASTER")
    children = os.environ.get("STREAMLIT_OPS_CHILDREN", "").split()
    if not master or len(children) < 2:
        pytest.skip("STREAMLIT_OPS_MASTER and two STREAMLIT_OPS_CHILDREN are needed")

    first = browser_session(app_url, screenshot=str(artifacts / "failover-before.png"), timeout_s=45)
    assert first.loaded and first.reacted, first

    served = re.findall(r'"GET \S*_stcore/stream HTTP/1.1" 101 .*?upstream=(\S+?):\d+ ', docker("exec", master, "tail", "-n", "50", LOG))
    assert served, "the master logged no WebSocket for the session"
    victim = child_at(served[-1], children)

    docker("stop", "-t", "5", victim)
    try:
        after = browser_session(app_url, screenshot=str(artifacts / "failover-after.png"), timeout_s=60)
        assert after.loaded and after.reacted, f"app did not survive losing {victim}: {after}"
    finally:
        docker("start", victim)
        wait_healthy(victim)

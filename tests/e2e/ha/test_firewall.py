"""The child firewall: only the allowed sources reach an app port.

The scenario allows the master and the controller (molecule/ha/molecule.yml);
a third container started on the scenario network is anyone else. Each
check has its control: the same probe gets through once the rules are taken
out, and the rules come back by themselves when dockerd starts (as after a
reboot, whose empty kernel the removal stands in for). A rerun of site.yml,
which skips the firewall step where the host read finds it in place, puts
back rules taken out and a script's mode changed. Every test leaves the
rules and the apps as the scenario converged them.
"""

import os
import subprocess
import time

import pytest
from hosts import on, playbook

SCRIPT = "/usr/local/sbin/streamlit-ops-firewall"
PROBE_TIMEOUT = 5


def docker(*args, timeout=120, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def network():
    name = os.environ.get("STREAMLIT_OPS_NETWORK", "").strip()
    if not name:
        pytest.skip("STREAMLIT_OPS_NETWORK is not set (the scenario's env sets it)")
    return name


@pytest.fixture(scope="module")
def target(children, child_addresses, apps):
    main = next(app for app in apps if app["name"] == "main")
    return children[0], child_addresses[0], main["port"]


@pytest.fixture(scope="module")
def outsider(network, children):
    """A third host on the scenario network: the children's own image, with bash and no python."""
    image = docker("inspect", "--format", "{{.Config.Image}}", children[0]).stdout.strip()

    def connects(address, port) -> bool:
        result = docker("run", "--rm", "--network", network, "--entrypoint", "timeout", image, str(PROBE_TIMEOUT),
                        "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}", check=False, timeout=60)
        return result.returncode == 0
    return connects


def master_connects(master, address, port) -> bool:
    result = on(master, "timeout", str(PROBE_TIMEOUT), "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}", check=False)
    return result.returncode == 0


def rules_in_place(child) -> bool:
    return on(child, SCRIPT, "--check", check=False).returncode == 0


def wait_healthy(child, timeout_s=180):
    deadline = time.monotonic() + timeout_s
    names = []
    while time.monotonic() < deadline:
        names = on(child, "docker", "ps", "--filter", "label=streamlit_ops.deploy.app", "--format", "{{.Names}} {{.Status}}").stdout
        lines = names.splitlines()
        if lines and all("(healthy)" in line for line in lines):
            return
        time.sleep(2)
    raise AssertionError(f"the apps on {child} are not healthy within {timeout_s} s: {names}")


def test_an_outsider_cannot_reach_an_app_port_and_the_master_can(outsider, master, target):
    child, address, port = target
    assert rules_in_place(child)
    assert master_connects(master, address, port), "the master must reach the app port"
    assert not outsider(address, port), f"a third host reached {address}:{port} through the firewall"


def test_control_without_the_rules_the_outsider_gets_through(outsider, target):
    child, address, port = target
    on(child, SCRIPT, "--remove")
    try:
        assert not rules_in_place(child)
        assert outsider(address, port), "with the rules out the probe must connect, or it proves nothing"
    finally:
        on(child, SCRIPT)
    assert rules_in_place(child)
    assert not outsider(address, port)


def test_rules_come_back_when_dockerd_starts(outsider, master, target):
    """A reboot empties the kernel's rules; docker.service's drop-in puts them back."""
    child, address, port = target
    on(child, SCRIPT, "--remove")
    try:
        on(child, "systemctl", "restart", "docker", timeout=180)
        wait_healthy(child)
        assert rules_in_place(child), on(child, "iptables", "-S", "DOCKER-USER", check=False).stdout
        assert not outsider(address, port), "the rules did not come back with dockerd"
        assert master_connects(master, address, port)
    finally:
        if not rules_in_place(child):
            on(child, SCRIPT)
        wait_healthy(child)


def test_rules_hold_only_the_app_ports(target):
    """Nothing but the apps' published ports is filtered: the chain names each port and nothing else."""
    child, address, port = target
    rules = on(child, "iptables", "-S", "STREAMLIT-OPS").stdout
    drops = [line for line in rules.splitlines() if line.endswith("-j DROP")]
    assert any(f"--ctorigdstport {port}" in line for line in drops), rules
    assert all(f"--ctorigdst {address}" in line for line in drops), rules
    # The control: a port of the child no app publishes is not in the chain.
    assert not any("--ctorigdstport 22 " in line for line in drops), rules


def test_a_site_rerun_puts_back_rules_taken_out_and_the_scripts_mode(outsider, master, target, inventory):
    """The host read finds the firewall out of place, so the rerun's firewall step runs on that child alone."""
    child, address, port = target
    on(child, SCRIPT, "--remove")
    on(child, "chmod", "0700", SCRIPT)
    try:
        # The control: the drift is real, the outsider gets through.
        assert not rules_in_place(child)
        assert outsider(address, port), "with the rules out the probe must connect, or it proves nothing"
        rc, output, changed = playbook("site.yml", inventory)
        assert rc == 0, output[-3000:]
        assert rules_in_place(child), on(child, "iptables", "-S", "STREAMLIT-OPS", check=False).stdout
        assert on(child, "stat", "-c", "%a", SCRIPT).stdout.strip() == "755"
        assert not outsider(address, port), "the rerun did not put the rules back"
        assert master_connects(master, address, port)
        assert changed.get(child, 0) >= 1, changed
        others = {host: count for host, count in changed.items() if host != child}
        assert others and not any(others.values()), f"only the drifted child changes: {changed}"
    finally:
        on(child, "chmod", "0755", SCRIPT)
        if not rules_in_place(child):
            on(child, SCRIPT)

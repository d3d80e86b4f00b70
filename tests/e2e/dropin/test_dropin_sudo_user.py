"""The dropin hosts are reached as an infra repo reaches its servers: as a user
of its own that becomes root with sudo (molecule.yml), so the converge, the
rerun, the removal and the deploy after it (the other tests here) all ran
that way."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def user_on(inventory: str, host: str, *args: str) -> str:
    """The user a command runs as on host, through the scenario's inventory."""
    cmd = [str(Path(sys.executable).parent / "ansible"), host, "-i", inventory, "-o",
           "-m", "ansible.builtin.command", "-a", "id -un", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True, cwd=ROOT).stdout
    return out.split()[-1]


def test_ansible_reaches_the_hosts_as_a_sudo_user_not_as_root(inventory, master, children):
    for host in (master, *children):
        assert user_on(inventory, host) == "root", host
        # Control: without become, the same command runs as the user Ansible connects as.
        assert user_on(inventory, host, "-e", "ansible_become=false") == "deploy", host

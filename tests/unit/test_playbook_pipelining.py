"""The playbooks pipeline their modules unless the inventory says otherwise:
playbooks/vars/main.yml sets ansible_pipelining as a play variable, which
outranks the inventory, so it must read the host's own value back. Seen from
what Ansible does: a pipelined module is never copied to the host (no PUT)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARS = ROOT / "playbooks" / "vars" / "main.yml"


def _puts(tmp_path, vars_files: list[str], *args: str) -> dict[str, bool]:
    """For each host, whether Ansible copied a module to it (PUT), i.e. did not pipeline."""
    play = [{"hosts": "all", "gather_facts": False, "vars_files": vars_files,
             "tasks": [{"ansible.builtin.command": "true", "changed_when": False}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    (tmp_path / "inventory").write_text(f"default {local}\nopted_out {local} ansible_pipelining=false\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-vvv", "-i", str(tmp_path / "inventory"),
         str(tmp_path / "play.yml"), *args],
        cwd=tmp_path, check=True, capture_output=True, text=True, timeout=300,
    )
    return {host: f"<{host}> PUT " in result.stdout for host in ("default", "opted_out")}


def test_pipelined_unless_the_inventory_opts_out(tmp_path):
    assert _puts(tmp_path, [str(VARS)]) == {"default": False, "opted_out": True}


def test_extra_vars_still_win(tmp_path):
    assert _puts(tmp_path, [str(VARS)], "-e", "ansible_pipelining=false") == {"default": True, "opted_out": True}


def test_control_without_the_playbooks_vars_nothing_is_pipelined(tmp_path):
    """Ansible's own default copies every module: the PUT check can tell."""
    assert _puts(tmp_path, []) == {"default": True, "opted_out": True}

# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The child firewall on the host: its script and drop-in files and what the
script's --check says, as firewall_script writes them and host_info reads
whether they are all in place (so that a rerun skips firewall_script)."""

from __future__ import annotations

import os

# Each file firewall_script writes: its parameter and its mode; both are root's.
FILES = (("script", "0755"), ("dropin", "0644"))
# firewall_script's options, which host_info's firewall option takes as they are.
OPTIONS = {
    "script": {"type": "str", "required": True},
    "script_path": {"type": "path", "required": True},
    "dropin": {"type": "str", "required": True},
    "dropin_path": {"type": "path", "required": True},
}


def current(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def check_rules(module, script_path: str) -> tuple[int, str]:
    """The rc of SCRIPT --check (0 when exactly its rules are in place, 1 when not, else it failed) and its output."""
    rc, out, err = module.run_command([script_path, "--check"])
    return rc, (err or out).strip()


def in_place(module, params: dict) -> bool:
    """Whether both files hold their content, root's with their modes, and the script finds its rules in place."""
    for name, mode in FILES:
        path = params[f"{name}_path"]
        if current(path) != params[name]:
            return False
        found = os.stat(path)
        if (found.st_uid, found.st_gid, found.st_mode & 0o7777) != (0, 0, int(mode, 8)):
            return False
    return check_rules(module, params["script_path"])[0] == 0

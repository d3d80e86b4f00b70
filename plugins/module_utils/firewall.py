# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The child firewall on the host: its script and drop-in files and what the
script's --check says, as firewall_script writes them and host_info reads
them (so that a rerun whose files and rules are in place skips
firewall_script)."""

from __future__ import annotations

import hashlib
import os

# Each file firewall_script writes: its parameter and its mode; both are root's.
FILES = (("script", "0755"), ("dropin", "0644"))
# firewall_script's options; host_info's firewall option takes the paths among them.
OPTIONS = {
    "script": {"type": "str", "required": True},
    "script_path": {"type": "path", "required": True},
    "dropin": {"type": "str", "required": True},
    "dropin_path": {"type": "path", "required": True},
}
PATHS = {name: spec for name, spec in OPTIONS.items() if name.endswith("_path")}


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


def found(module, paths: dict) -> dict:
    """What is on the host where firewall_script writes: each file's SHA-256 (None when absent) and whether it is
    root's with its mode, and whether SCRIPT --check finds the rules in place (run only for root's script). The
    caller compares the digests with the content it would write, which may be known only after this read."""
    files = {}
    for name, mode in FILES:
        path = paths[f"{name}_path"]
        try:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            stat = os.stat(path)
        except FileNotFoundError:
            files[name] = {"sha256": None, "root_with_mode": False}
            continue
        files[name] = {"sha256": digest, "root_with_mode": (stat.st_uid, stat.st_gid, stat.st_mode & 0o7777) == (0, 0, int(mode, 8))}
    rules = files["script"]["root_with_mode"] and check_rules(module, paths["script_path"])[0] == 0
    return dict(files, rules_in_place=rules)

"""firewall_script with a stand-in script whose "rules" are a file: it writes
the script and drop-in once, applies the rules only when the script's --check
says they differ, mends a mode, changes nothing in check mode, and fails
naming the script when --check or the script itself fails."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

MODULE = pathlib.Path(__file__).resolve().parents[4] / "plugins/modules/firewall_script.py"


def _collections_path() -> str:
    """The directory that holds ansible_collections/, as this test imports the collection from it (the
    checkout's collections/ link, or ansible-test's copy)."""
    from ansible_collections.streamlit_ops.deploy.plugins.module_utils import firewall
    return next(str(p.parent) for p in pathlib.Path(firewall.__file__).parents if p.name == "ansible_collections")


# Applies "the rules" by writing RULES into a state file; --check compares it.
SCRIPT = """#!/bin/sh
STATE={state}
RULES='{rules}'
if [ "${{1:-}}" = --check ]; then
  [ "$(cat "$STATE" 2>/dev/null)" = "$RULES" ] && exit 0
  exit {differ_rc}
fi
echo applied >> {state}.log
printf '%s' "$RULES" > "$STATE"
"""


def _script(tmp_path, rules="A", differ_rc=1):
    return SCRIPT.format(state=tmp_path / "state", rules=rules, differ_rc=differ_rc)


def _run(tmp_path, script, dropin="[Service]\nExecStartPost=/x\n", check=False, diff=False):
    params = {"script": script, "script_path": str(tmp_path / "sbin" / "fw"), "dropin": dropin,
              "dropin_path": str(tmp_path / "docker.service.d" / "fw.conf"),
              "_ansible_check_mode": check, "_ansible_diff": diff}
    argfile = tmp_path / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    (tmp_path / "sbin").mkdir(exist_ok=True)
    # The module imports its module_utils from the collection, as AnsiballZ bundles them.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_collections_path(), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, str(MODULE), str(argfile)], capture_output=True, text=True, timeout=60, check=False, env=env)
    assert out.stdout, out.stderr
    return json.loads(out.stdout)


def _applied(tmp_path) -> int:
    log = tmp_path / "state.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_writes_once_applies_when_the_rules_differ_and_mends_the_mode(tmp_path):
    first = _run(tmp_path, _script(tmp_path), diff=True)
    assert first["changed"] and first["script_changed"] and first["dropin_changed"] and first["rules_applied"], first
    assert [d["after_header"] for d in first["diff"]] == [str(tmp_path / "sbin" / "fw"), str(tmp_path / "docker.service.d" / "fw.conf")]
    assert (tmp_path / "sbin" / "fw").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "docker.service.d" / "fw.conf").stat().st_mode & 0o777 == 0o644
    assert _applied(tmp_path) == 1
    # A rerun changes nothing and does not apply again.
    again = _run(tmp_path, _script(tmp_path))
    assert not again["changed"] and not again["rules_applied"], again
    assert _applied(tmp_path) == 1
    # The rules gone from the kernel (here: the state file): applied again, files untouched.
    (tmp_path / "state").unlink()
    mended = _run(tmp_path, _script(tmp_path))
    assert mended["changed"] and mended["rules_applied"] and not mended["script_changed"], mended
    assert _applied(tmp_path) == 2
    # A mode changed by hand is mended without rewriting or re-applying.
    (tmp_path / "sbin" / "fw").chmod(0o700)
    moded = _run(tmp_path, _script(tmp_path))
    assert moded["changed"] and moded["script_changed"] and not moded["rules_applied"], moded
    assert (tmp_path / "sbin" / "fw").stat().st_mode & 0o777 == 0o755
    # New rules: the new script is written, then it applies them.
    new = _run(tmp_path, _script(tmp_path, rules="B"))
    assert new["script_changed"] and new["rules_applied"] and not new["dropin_changed"], new
    assert (tmp_path / "state").read_text() == "B"


def test_check_mode_writes_and_applies_nothing(tmp_path):
    fresh = _run(tmp_path, _script(tmp_path), check=True)
    assert fresh["changed"] and fresh["rules_applied"], fresh
    assert not (tmp_path / "sbin" / "fw").exists() and not (tmp_path / "docker.service.d").exists()
    _run(tmp_path, _script(tmp_path))
    (tmp_path / "state").unlink()
    # The script is unchanged, so its --check runs and reports the missing rules; nothing is applied.
    checked = _run(tmp_path, _script(tmp_path), check=True)
    assert checked["changed"] and checked["rules_applied"] and not checked["script_changed"], checked
    assert not (tmp_path / "state").exists() and _applied(tmp_path) == 1
    # Control: with the rules in place, check mode reports nothing.
    _run(tmp_path, _script(tmp_path))
    assert not _run(tmp_path, _script(tmp_path), check=True)["changed"]


def test_a_failing_check_names_the_script(tmp_path):
    _run(tmp_path, _script(tmp_path))
    (tmp_path / "state").unlink()
    broken = _run(tmp_path, _script(tmp_path, differ_rc=2))
    assert broken.get("failed") and f"{tmp_path / 'sbin' / 'fw'} --check failed (rc 2)" in broken["msg"], broken

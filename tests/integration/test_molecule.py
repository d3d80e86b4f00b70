"""Run Molecule scenarios' full test sequences (create, prepare, converge,
idempotence, verify, destroy). Verify runs the black-box checks in tests/e2e.

STREAMLIT_OPS_SCENARIOS picks the scenarios (names separated by spaces or
commas; all of SCENARIOS when unset). Molecule and Ansible come from the venv
whose pytest runs this file, so each venv of the version matrix tests itself
(`make test` runs only `default` with the newest).

Molecule's output streams as it runs and is kept whole in
.cache/artifacts/<scenario>/molecule.log, the verify step's pytest output
(with its durations) in pytest-core-<ansible-core version>.log next to it; a
failure's message carries the lines that say what failed, so a CI log that
keeps only its tail still does."""

import collections
import os
import signal
import pathlib
import re
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIOS = ["default", "ha", "dropin", "standalone", "edge"]
CHOSEN = os.environ.get("STREAMLIT_OPS_SCENARIOS", "").replace(",", " ").split() or SCENARIOS
BIN = pathlib.Path(sys.executable).parent
# What says why a run failed: Ansible's failures, Molecule's errors and the
# e2e suite's failed checks with their assertion lines.
CAUSE = re.compile(r"fatal: |FAILED! =>|^\s*(msg|stderr|stdout):|CRITICAL|ERROR|"
                   r"FAILED tests/|^\s*E\s{2,}|AssertionError|Timeout|failed=[1-9]|unreachable=[1-9]")
DIGEST_LINES = 40
# Above the longest scenario beside the other lane (ha: 60 min once), below CI's 90-min limit.
SCENARIO_TIMEOUT_S = 4500


def digest(lines: list[str]) -> str:
    """The lines that say why, each cut to 300 characters, at most DIGEST_LINES."""
    picked = [line.rstrip()[:300] for line in lines if CAUSE.search(line)]
    if len(picked) > DIGEST_LINES:
        picked = picked[:10] + ["…"] + picked[-(DIGEST_LINES - 11):]
    return "\n".join(picked) or "(no line named a cause; see the log)"


@pytest.mark.parametrize("scenario", CHOSEN)
def test_scenario(scenario):
    assert (ROOT / "molecule" / scenario / "molecule.yml").is_file(), (
        f"STREAMLIT_OPS_SCENARIOS names {scenario!r}, which is not a scenario under molecule/"
    )
    # This venv's ansible-playbook first: molecule runs the one on PATH.
    path = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    env = dict(os.environ, PATH=path, PY_COLORS="0", ANSIBLE_FORCE_COLOR="0")
    molecule = BIN / "molecule"
    log_path = ROOT / ".cache" / "artifacts" / scenario / "molecule.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Ansible prints a failed task's result across many lines: keep them all
    # for the log, and the cause lines for the message.
    kept = collections.deque(maxlen=20000)
    started = time.monotonic()
    with subprocess.Popen(
        [str(molecule) if molecule.exists() else "molecule", "test", "-s", scenario],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        start_new_session=True,
    ) as proc, log_path.open("w") as log:
        # Bounds the read loop: a hung scenario is killed with every process
        # it started (they hold the pipe open too), and its output ends.
        watchdog = threading.Timer(SCENARIO_TIMEOUT_S, os.killpg, (proc.pid, signal.SIGKILL))
        watchdog.start()
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
                kept.append(line)
            returncode = proc.wait()
        finally:
            watchdog.cancel()
    elapsed = time.monotonic() - started
    print(f"\nmolecule test -s {scenario}: exit {returncode} after {elapsed // 60:.0f} min {elapsed % 60:.0f} s")
    assert returncode == 0, (
        f"molecule test -s {scenario} failed (exit {returncode}); the whole output is in {log_path.relative_to(ROOT)}. "
        f"What failed:\n{digest(list(kept))}"
    )

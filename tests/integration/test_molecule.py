"""Run Molecule scenarios' full test sequences (create, prepare, converge,
idempotence, verify, destroy). Verify runs the black-box checks in tests/e2e.

STREAMLIT_OPS_SCENARIOS picks the scenarios (names separated by spaces or
commas; all of SCENARIOS when unset). Molecule and Ansible come from the venv
whose pytest runs this file, so each venv of the version matrix tests itself
(`make test` runs only `default` with the newest)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIOS = ["default", "ha", "dropin", "standalone"]
CHOSEN = os.environ.get("STREAMLIT_OPS_SCENARIOS", "").replace(",", " ").split() or SCENARIOS
BIN = pathlib.Path(sys.executable).parent


@pytest.mark.parametrize("scenario", CHOSEN)
def test_scenario(scenario):
    assert (ROOT / "molecule" / scenario / "molecule.yml").is_file(), (
        f"STREAMLIT_OPS_SCENARIOS names {scenario!r}, which is not a scenario under molecule/"
    )
    # This venv's ansible-playbook first: molecule runs the one on PATH.
    path = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    env = dict(os.environ, PATH=path, PY_COLORS="0", ANSIBLE_FORCE_COLOR="0")
    molecule = BIN / "molecule"
    result = subprocess.run(
        [str(molecule) if molecule.exists() else "molecule", "test", "-s", scenario],
        cwd=ROOT, env=env, timeout=3600, check=False,
    )
    assert result.returncode == 0, f"molecule test -s {scenario} failed (see its output above)"

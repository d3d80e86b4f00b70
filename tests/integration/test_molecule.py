"""Run each Molecule scenario's full test sequence (create, prepare, converge,
idempotence, verify, destroy). Verify runs the black-box checks in tests/e2e."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIOS = ["default", "ha", "dropin"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario):
    env = dict(os.environ, PY_COLORS="0", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(
        ["molecule", "test", "-s", scenario],
        cwd=ROOT, env=env, timeout=3600, check=False,
    )
    assert result.returncode == 0, f"molecule test -s {scenario} failed (see its output above)"

"""ansible-lint (production profile, see .ansible-lint) and yamllint are clean."""

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(*cmd):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_yamllint_is_clean():
    result = run("yamllint", "-s", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_is_clean():
    result = run("ansible-lint", "--profile", "production")
    assert result.returncode == 0, result.stdout + result.stderr

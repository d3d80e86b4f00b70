"""The container's own health check proves the app serves under its base path:
it passes as deployed and fails for a wrong path, where a status-only check
would be fooled (Streamlit answers 200 HTML for unknown paths under its base)."""

import json
import os
import subprocess

import pytest


def in_child(child, *cmd):
    return subprocess.run(["docker", "exec", child, *cmd], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def deployed():
    children = os.environ.get("STREAMLIT_OPS_CHILDREN", "").split()
    if not children:
        pytest.skip("STREAMLIT_OPS_CHILDREN is not set (Molecule's verify sets it)")
    inspect = in_child(children[0], "docker", "inspect", "streamlit-demo")
    assert inspect.returncode == 0, inspect.stderr
    config = json.loads(inspect.stdout)[0]
    return children[0], config["Config"]["Healthcheck"]["Test"], config["State"]["Health"]["Status"]


def run_check(child, test, path_from=None, path_to=None):
    kind, script = test[0], test[1]
    assert kind == "CMD-SHELL"
    if path_from:
        script = script.replace(path_from, path_to)
    return in_child(child, "docker", "exec", "streamlit-demo", "sh", "-c", script)


def test_container_is_healthy_with_its_own_check(deployed):
    child, test, status = deployed
    assert status == "healthy"
    assert run_check(child, test).returncode == 0


@pytest.mark.parametrize("wrong", ["/streamlitApp/not-here/_stcore/health", "/other/_stcore/health"])
def test_health_check_fails_for_a_wrong_base_path(deployed, wrong):
    child, test, dummy = deployed
    result = run_check(child, test, "/streamlitApp/_stcore/health", wrong)
    assert result.returncode != 0, result.stdout + result.stderr

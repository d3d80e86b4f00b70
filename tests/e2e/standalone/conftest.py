"""Fixtures for the standalone scenario: each role used on its own next to a
container and two Nginx sites of the user's, and what prepare recorded of
them before the roles arrived.

The helpers of the other scenarios are reused, not copied: Chromium with the
server name mapped to the master (ha/browser.py), `docker exec` and file
snapshots on a test host (dropin/dropin_hosts.py), and the ha fixtures that
resolve the server name to the master for this process.
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(E2E / "ha"))
sys.path.insert(0, str(E2E / "dropin"))

from settings import scenario_env  # noqa: E402  (tests/e2e is on the path, see ../conftest.py)


def _ha_fixtures():
    """ha/conftest.py under a name of its own, so it cannot shadow any conftest."""
    spec = importlib.util.spec_from_file_location("standalone_ha_conftest", E2E / "ha" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ha = _ha_fixtures()
master_address = _ha.master_address
server_name = _ha.server_name
resolve_server_name = _ha.resolve_server_name
own_address = _ha.own_address


def _record(name: str):
    folder = scenario_env("STREAMLIT_OPS_USER_RECORDS", "the folder where prepare recorded the user's things")
    return json.loads((Path(folder) / name).read_text())


@pytest.fixture(scope="session")
def user_files_before() -> dict:
    """{path: [kind, sha256 or link target]} of the user's files on the master."""
    return _record("user-files-before.json")


@pytest.fixture(scope="session")
def user_answers_before() -> dict:
    """{url: body} of the user's sites, each answered with 200."""
    return _record("user-answers-before.json")


@pytest.fixture(scope="session")
def user_container_before() -> dict:
    """`docker container inspect` of the user's container on the child."""
    return _record("user-container-before.json")


@pytest.fixture(scope="session")
def child(children) -> str:
    return children[0]

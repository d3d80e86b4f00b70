"""Fixtures for the standalone scenario: each role used on its own next to a
container and two Nginx sites of the user's, and what prepare recorded of
them before the roles arrived.

The helpers every scenario shares are in tests/e2e: Chromium with the server
name mapped to the master (browser.py), `docker exec` and file snapshots on a
test host (hosts.py), and the fixtures that resolve the server name to the
master for this process (conftest.py).
"""

import json
from pathlib import Path

import pytest
from settings import scenario_env


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

"""Fixtures for the dropin scenario: the master whose own server block
includes the collection's snippet, its child, and the record prepare made of
the user's files before the collection arrived."""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _env(name: str, why: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.skip(f"{name} is not set: {why} (Molecule's verify for scenario dropin sets it)")
    return value


@pytest.fixture(scope="session")
def master() -> str:
    return _env("STREAMLIT_OPS_MASTER", "the master's container name")


@pytest.fixture(scope="session")
def children() -> list[str]:
    return _env("STREAMLIT_OPS_CHILDREN", "the children's container names").split()


@pytest.fixture(scope="session")
def inventory() -> str:
    return _env("STREAMLIT_OPS_INVENTORY", "the Molecule inventory")


@pytest.fixture(scope="session")
def user_site_url() -> str:
    return _env("STREAMLIT_OPS_USER_SITE_URL", "the user's own server on the master")


@pytest.fixture(scope="session")
def direct_app_url() -> str:
    return _env("STREAMLIT_OPS_DIRECT_APP_URL", "the app on its child, not through the master")


@pytest.fixture(scope="session")
def user_files_before() -> dict:
    path = _env("STREAMLIT_OPS_USER_FILES_BEFORE", "prepare's record of the user's files")
    return json.loads(Path(path).read_text())

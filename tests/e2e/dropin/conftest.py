"""Fixtures for the dropin scenario: the master whose own server block
includes the collection's snippet, its child, and the record prepare made of
the user's files before the collection arrived."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from settings import scenario_env  # noqa: E402  (tests/e2e is on the path, see ../conftest.py)


@pytest.fixture(scope="session")
def user_site_url() -> str:
    return scenario_env("STREAMLIT_OPS_USER_SITE_URL", "the user's own server on the master")


@pytest.fixture(scope="session")
def direct_app_url() -> str:
    return scenario_env("STREAMLIT_OPS_DIRECT_APP_URL", "the app on its child, not through the master")


@pytest.fixture(scope="session")
def user_files_before() -> dict:
    path = scenario_env("STREAMLIT_OPS_USER_FILES_BEFORE", "prepare's record of the user's files")
    return json.loads(Path(path).read_text())

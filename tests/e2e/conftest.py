"""Fixtures for the black-box tests: where the deployed app is and where artifacts go."""

import os
import sys
from pathlib import Path

import pytest

# checks.py is also run outside pytest (Molecule's verify); import it by path so
# this works under any --import-mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from settings import scenario_env  # noqa: E402  (found through the path above)


def _url(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return (value.rstrip("/") + "/") if value else None


@pytest.fixture(scope="session")
def app_url() -> str:
    url = _url("STREAMLIT_OPS_APP_URL")
    if not url:
        pytest.skip("STREAMLIT_OPS_APP_URL is not set")
    return url


@pytest.fixture(scope="session")
def broken_url() -> str:
    url = _url("STREAMLIT_OPS_BROKEN_URL")
    if not url:
        pytest.skip(
            "STREAMLIT_OPS_BROKEN_URL is not set: the negative control needs "
            "the app behind a location without Upgrade/Connection headers"
        )
    return url


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    configured = os.environ.get("STREAMLIT_OPS_ARTIFACTS")
    path = Path(configured) if configured else tmp_path_factory.mktemp("e2e-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def master() -> str:
    return scenario_env("STREAMLIT_OPS_MASTER", "the master's container name")


@pytest.fixture(scope="session")
def children() -> list[str]:
    return scenario_env("STREAMLIT_OPS_CHILDREN", "the children's container names").split()


@pytest.fixture(scope="session")
def inventory() -> str:
    return scenario_env("STREAMLIT_OPS_INVENTORY", "the Molecule inventory")

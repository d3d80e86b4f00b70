"""Fixtures for the ha scenario: two apps behind https://<server name>/ on the
master, a self-signed certificate, and the children's addresses. The server
name and the master's address come from ../conftest.py."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from settings import scenario_env  # noqa: E402  (tests/e2e is on the path, see ../conftest.py)
from site_runs import site_runs as run_site_runs  # noqa: E402  (this directory is on the path, above)
from upgrade import upgrade  # noqa: E402


@pytest.fixture(scope="session")
def strict_url() -> str:
    return scenario_env("STREAMLIT_OPS_STRICT_URL", "the app with origin_policy strict").rstrip("/") + "/"


@pytest.fixture(scope="session")
def cafile() -> str:
    return scenario_env("STREAMLIT_OPS_CA", "the master's self-signed certificate, trusted as its own CA")


@pytest.fixture(scope="session")
def child_addresses() -> list[str]:
    return scenario_env("STREAMLIT_OPS_CHILD_ADDRESSES", "the children's addresses").split()


@pytest.fixture(scope="session")
def apps(inventory, master) -> list[dict]:
    """streamlit_ops_apps as the inventory defines them."""
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", inventory, "--host", master],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)["streamlit_ops_apps"]


@pytest.fixture(scope="session")
def site_runs(apps, app_url, cafile, inventory, master, children, artifacts):
    """The site.yml runs several checks share (site_runs.py), run once."""
    return run_site_runs(apps, app_url, cafile, inventory, master, children, artifacts)


@pytest.fixture(scope="session")
def paths(apps) -> dict:
    """Each app's path by name."""
    return {app["name"]: app.get("path") or f"/{app['name']}/" for app in apps}


@pytest.fixture(scope="session")
def ask(master_address, server_name, cafile):
    """The master's answer to a WebSocket upgrade of a path with an Origin (and a Host)."""
    def ask(path, origin, host=None):
        return upgrade(master_address, server_name, cafile, path, host or server_name, origin)
    return ask

"""Fixtures for the black-box tests: where the deployed app is and where artifacts go."""

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

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


# A server name that is in no DNS: this process resolves it to the master's
# address itself, and the browser does the same with --host-resolver-rules.
@pytest.fixture(scope="session")
def master_address() -> str:
    return scenario_env("STREAMLIT_OPS_MASTER_ADDRESS", "the master's address, where the server name resolves to")


@pytest.fixture(scope="session")
def server_name(app_url) -> str:
    return urlsplit(app_url).hostname


@pytest.fixture(scope="session", autouse=True)
def resolve_server_name(request):
    """Send the server name to the master, for this process only."""
    url = os.environ.get("STREAMLIT_OPS_APP_URL", "").strip()
    address = os.environ.get("STREAMLIT_OPS_MASTER_ADDRESS", "").strip()
    if not url or not address:
        yield
        return
    name = urlsplit(url).hostname
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return original(address if host == name else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = original


@pytest.fixture(scope="session")
def own_address(master_address) -> str:
    """The address this machine reaches the master from: what the app must see as its client."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((master_address, 443))  # UDP: no packet is sent
        return sock.getsockname()[0]

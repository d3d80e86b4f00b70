"""Fixtures for the ha scenario: two apps behind https://<server name>/ on the
master, a self-signed certificate, and the test hosts by name and address.

The server name is not in any DNS: this process resolves it to the master's
address itself, and the browser does the same with --host-resolver-rules.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from settings import scenario_env  # noqa: E402  (tests/e2e is on the path, see ../conftest.py)

ROOT = Path(__file__).resolve().parents[3]


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
def own_address(master_address) -> str:
    """The address this machine reaches the master from: what the app must see as its client."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((master_address, 443))  # UDP: no packet is sent
        return sock.getsockname()[0]

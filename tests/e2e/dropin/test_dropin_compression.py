"""The brotli opt-out: this scenario sets nginx_proxy_brotli false, as a user
who wants no module added to their own Nginx would. A client that accepts br
gets gzip, and the user's Nginx loads no brotli module. The control: this very
master, as the role's host_info module reads it, would get brotli from the
role's rule with nginx_proxy_brotli null (auto), so it is the opt-out and not
the host that leaves brotli off.
"""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checks import fetch_encoded, main_bundle
from hosts import ROOT, inventory_hosts, nginx_dump

# The role's own rule, from the checkout (collections/ links it as the collection).
sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import nginx_proxy_brotli  # noqa: E402

BOTH = "br, gzip"


@pytest.fixture(scope="module")
def bundle(app_url) -> tuple[str, bytes]:
    """The main bundle's URL through the user's server, and its plain bytes."""
    return main_bundle(app_url)


def test_opt_out_serves_gzip_to_a_client_that_accepts_br(bundle, master, inventory):
    assert inventory_hosts(inventory)["settings"].get("nginx_proxy_brotli") is False, "the scenario must opt out"
    url, plain = bundle
    status, body, headers = fetch_encoded(url, BOTH)
    assert status == 200
    assert headers.get("content-encoding") == "gzip", headers
    assert gzip.decompress(body) == plain
    assert nginx_proxy_brotli.MODULE not in nginx_dump(master)


def test_control_the_master_would_get_brotli_without_the_opt_out(master, inventory):
    """host_info as the role's facts step calls it, then the role's rule with
    nginx_proxy_brotli null: brotli, installed by the role."""
    package = nginx_proxy_brotli.PACKAGE
    args = {"packages": [package], "nginx": True, "nginx_modules": True, "apt_depends": [package]}
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1")
    out = subprocess.run([str(Path(sys.executable).parent / "ansible"), master, "-i", inventory, "-m", "streamlit_ops.deploy.host_info",
                          "-a", json.dumps(args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    host = json.loads(out.stdout)["plays"][0]["tasks"][0]["hosts"][master]
    settings = {"nginx_proxy_manage_main_config": True, "nginx_proxy_server": False, "nginx_proxy_install": True}
    assert nginx_proxy_brotli.decide({**settings, "nginx_proxy_brotli": None}, host) == {
        "enabled": True, "install": True, "reason": "", "fix": ""}, host
    assert nginx_proxy_brotli.decide({**settings, "nginx_proxy_brotli": False}, host)["enabled"] is False

"""The filter files import their plugin_utils modules on first use only:
Ansible imports every filter file of the collection in each worker that
resolves one of its filters, compiling collection code from source, so a
worker should compile only the modules its filters call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

COLLECTIONS = Path(__file__).resolve().parents[2] / "collections"
PACKAGE = "ansible_collections.streamlit_ops.deploy.plugins"
SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from {package}.filter import nginx_proxy, site, streamlit_app
{call}
print(json.dumps(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('{package}.plugin_utils.'))))
"""


def _imported(call: str) -> list[str]:
    script = SCRIPT.format(package=PACKAGE, call=call)
    done = subprocess.run([sys.executable, "-c", script, str(COLLECTIONS)], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_loading_every_filter_file_compiles_no_rules():
    assert _imported("") == ["lazy"]


@pytest.mark.parametrize("call, wanted, unwanted", [
    ("streamlit_app.streamlit_app_containers([{'name': 'a', 'path': '/a/', 'image': 'x:1', 'port': 8501}])",
     "specs", ["site", "nginx_proxy_rules", "streamlit_secrets"]),
    ("streamlit_app.streamlit_app_firewall_sources(['10.0.0.1'], '10.0.0.2')", "streamlit_app_rules", ["site", "nginx_proxy_rules"]),
])
def test_a_filter_imports_what_it_calls_and_not_the_others(call, wanted, unwanted):
    # The control: the filter's own module is imported once it is called.
    imported = _imported(call)
    assert wanted in imported, imported
    assert not set(unwanted) & set(imported), imported

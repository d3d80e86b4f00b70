# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""When the nginx_proxy role gives a host brotli, installs the module for it,
or falls back to gzip (plugin_utils/nginx_proxy_brotli.py), and what
nginx_proxy_brotli true says on a host that cannot have it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.streamlit_ops.deploy.plugins.filter.nginx_proxy import nginx_proxy_brotli, nginx_proxy_errors
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import nginx_proxy_brotli as rules

ROLE = Path(__file__).resolve().parents[2] / "roles" / "nginx_proxy"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
ABI = "nginx-abi-1.26.3-1"
LOADED = [rules.MODULE, "ngx_stream_module.so"]


def _host(binary=True, codename="trixie", abi=ABI, modules=(), included=True, installed=False, depends=ABI) -> dict:
    return {
        "name": "master",
        "packages": {"python3-apt": False, rules.PACKAGE: installed},
        "depends": {rules.PACKAGE: f"{depends}, libbrotli1 (>= 0.6.0), libc6 (>= 2.4)" if depends else ""},
        "paths": {},
        "nginx": {"binary": binary, "codename": codename, "abi": abi, "modules": list(modules) if modules is not None else None,
                  "modules_included": included, "cpus": 2, "nofile_soft": 1024, "nofile_hard": 524288,
                  "nofile_source": "PID 1", "stock_md5": "", "main_config_md5": "", "main_config_marker": False},
    }


def _settings(**values) -> dict:
    apps = [{"name": "app", "path": "/app/", "backends": ["10.0.0.11:8501"]}]
    return {**DEFAULTS, "nginx_proxy_apps": apps, "nginx_proxy_manage_main_config": False, **values}


CASES = {
    # (settings, host) -> (enabled, install)
    "loaded already": ({}, _host(modules=LOADED, installed=True), (True, False)),
    "loaded from a build of the user's": ({}, _host(abi="", modules=LOADED), (True, False)),
    "Debian's Nginx, module not yet installed": ({}, _host(), (True, True)),
    "fresh host: installed with Nginx": ({}, _host(binary=False, abi="", modules=None, included=False, depends=""), (True, True)),
    "the role's own nginx.conf includes modules-enabled": (
        {"nginx_proxy_manage_main_config": True}, _host(included=False), (True, True)),
    "opt-out": ({"nginx_proxy_brotli": False}, _host(modules=LOADED, installed=True), (False, False)),
    "opt-out installs nothing": ({"nginx_proxy_brotli": False}, _host(), (False, False)),
    "release without the package": ({}, _host(codename="bullseye"), (False, False)),
    "Nginx that is not Debian's": ({}, _host(abi=""), (False, False)),
    "nginx_proxy_install false": ({"nginx_proxy_install": False}, _host(), (False, False)),
    "nginx.conf without modules-enabled": ({}, _host(included=False), (False, False)),
    "installed, link removed": ({}, _host(installed=True), (False, False)),
    "installed, current config unreadable": ({}, _host(installed=True, modules=None), (True, False)),
    "no apt lists": ({}, _host(depends=""), (False, False)),
    "candidate for another Nginx": ({}, _host(depends="nginx-abi-1.26.3-2"), (False, False)),
}


@pytest.mark.parametrize("case", CASES)
def test_decide(case):
    settings, host, expected = CASES[case]
    found = nginx_proxy_brotli(_settings(**settings), host)
    assert (found["enabled"], found["install"]) == expected, found
    # Auto mode says why it falls back, with the fix; off by choice says nothing.
    if found["enabled"] or settings.get("nginx_proxy_brotli") is False:
        assert found["note"] == ""
    else:
        assert found["reason"] in found["note"] and found["fix"] in found["note"] and "nginx_proxy_brotli" in found["note"]


def test_true_fails_validate_naming_the_variable_and_the_fix():
    problems = nginx_proxy_errors(_settings(nginx_proxy_brotli=True), _host(included=False), {})
    assert len(problems) == 1, problems
    assert problems[0].startswith("nginx_proxy_brotli is true, but nginx.conf does not include /etc/nginx/modules-enabled/*.conf")
    assert "include /etc/nginx/modules-enabled/*.conf;" in problems[0]
    # Controls: the same host in auto mode, and true where the module can be had, pass.
    assert nginx_proxy_errors(_settings(), _host(included=False), {}) == []
    assert nginx_proxy_errors(_settings(nginx_proxy_brotli=True), _host(), {}) == []


def test_the_role_and_the_rules_name_the_same_package():
    assert ROLE_VARS["__nginx_proxy_brotli_package"] == rules.PACKAGE
    assert DEFAULTS["nginx_proxy_brotli"] is None

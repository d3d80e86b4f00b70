"""What each container is told: container_env in open and strict mode, read
back through Streamlit's own CLI, public_origins, and the roles' inputs."""

import json
import subprocess
import sys

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.filter import apps as f

CHILDREN = ["child1", "child2"]
SECRET = "0123456789abcdef0123456789abcdef"
SITE = {
    "server_name": "apps.example.com www.example.com",
    "http_port": 80,
    "https_port": 8443,
    "tls": True,
    "public_url": None,
    "origin_policy": "open",
    "proxy_addresses": ["10.0.0.10", "fd00::10"],
    "cookie_secrets": {"demo": SECRET},
}
KEYS = [
    "server.enableCORS", "server.corsAllowedOrigins", "server.allowedHosts", "browser.serverAddress",
    "browser.serverPort", "server.maxUploadSize", "server.websocketPingInterval", "server.cookieSecret",
    "server.enableXsrfProtection", "server.baseUrlPath", "server.headless", "secrets.files",
    "server.folderWatchBlacklist", "theme.base", "server.runOnSave",
]
# `streamlit config show` parses options exactly as `streamlit run` does: click
# options with envvar (lists split on whitespace), and the sensitive
# server.cookieSecret straight from os.environ.
READ_BACK = """
import json, sys
from click.testing import CliRunner
from streamlit import config
from streamlit.web import cli
env, keys = json.loads(sys.argv[1]), json.loads(sys.argv[2])
result = CliRunner().invoke(cli.main, ["config", "show"], env=env)
assert result.exit_code == 0, result.output
print(json.dumps({key: config.get_option(key) for key in keys}))
"""


def streamlit_reads(env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", READ_BACK, json.dumps(env), json.dumps(KEYS)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def app(**over):
    item = {"name": "demo", "image": "demo:1.0", "port": 8501, "path": "/streamlitApp/"}
    item.update(over)
    return item


def test_open_mode_keeps_the_missions_cors_setting():
    (item,) = f.child_containers([app(max_upload_mb=40, ping_interval=45)], "child1", CHILDREN, SITE)
    env = f.container_env(item)
    assert env["STREAMLIT_SERVER_ENABLE_CORS"] == "false"
    assert "STREAMLIT_SERVER_CORS_ALLOWED_ORIGINS" not in env and "STREAMLIT_SERVER_ALLOWED_HOSTS" not in env
    assert env["FORWARDED_ALLOW_IPS"] == "10.0.0.10,fd00::10"
    seen = streamlit_reads(env)
    assert seen["server.enableCORS"] is False
    assert (seen["server.maxUploadSize"], seen["server.websocketPingInterval"]) == (40, 45)
    assert seen["server.cookieSecret"] == SECRET
    assert seen["server.enableXsrfProtection"] is True
    assert (seen["server.baseUrlPath"], seen["server.headless"]) == ("streamlitApp", True)


def test_strict_mode_allows_only_the_public_origins(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("")
    options = {"server.folderWatchBlacklist": ["/tmp", "/var"], "theme.base": "dark", "server.runOnSave": True}
    (item,) = f.child_containers(
        [app(origin_policy="strict", options=options, secrets_file=str(secrets))], "child1", CHILDREN, SITE
    )
    assert item["public_origins"] == ["https://apps.example.com:8443", "https://www.example.com:8443"]
    seen = streamlit_reads(f.container_env(item))
    assert seen["server.enableCORS"] is True
    assert seen["server.corsAllowedOrigins"] == ["https://apps.example.com:8443", "https://www.example.com:8443"]
    assert seen["server.allowedHosts"] == ["apps.example.com", "www.example.com"]
    assert (seen["browser.serverAddress"], seen["browser.serverPort"]) == ("apps.example.com", 8443)
    assert seen["secrets.files"] == [f.SECRETS_PATH]
    assert seen["server.folderWatchBlacklist"] == ["/tmp", "/var"]
    assert (seen["theme.base"], seen["server.runOnSave"]) == ("dark", True)


def test_defaults_without_a_site_are_the_roles_standalone_view():
    env = f.container_env(app())
    assert env["STREAMLIT_SERVER_ENABLE_CORS"] == "false"
    assert env["STREAMLIT_SERVER_MAX_UPLOAD_SIZE"] == "200"
    assert env["STREAMLIT_SERVER_WEBSOCKET_PING_INTERVAL"] == "30"
    assert "FORWARDED_ALLOW_IPS" not in env and "STREAMLIT_SERVER_COOKIE_SECRET" not in env
    (item,) = f.child_containers([app()], "child1", CHILDREN)
    assert item["origin_policy"] == "open" and "cookie_secret" not in item and "forwarded_allow_ips" not in item


def test_the_managed_settings_win_over_env_and_options():
    env = f.container_env(app(env={"A": 1}, options={"theme.base": "light"}))
    assert env["A"] == "1" and env["STREAMLIT_THEME_BASE"] == "light"
    assert f.RESERVED_ENV >= {"STREAMLIT_SERVER_COOKIE_SECRET", "STREAMLIT_SECRETS_FILES", "FORWARDED_ALLOW_IPS"}


def test_managed_options_exist_in_streamlit():
    assert set(f.MANAGED_OPTIONS) <= set(f.OPTIONS)


@pytest.mark.parametrize(
    ("site", "origins"),
    [
        ({"server_name": "_"}, []),
        ({"server_name": "apps.example.com"}, ["http://apps.example.com"]),
        ({"server_name": "Apps.Example.com", "http_port": 8080}, ["http://apps.example.com:8080"]),
        ({"server_name": "apps.example.com", "tls": True, "https_port": 443}, ["https://apps.example.com"]),
        ({"server_name": "apps.example.com", "tls": True, "https_port": 8443, "http_port": 80}, ["https://apps.example.com:8443"]),
        ({"server_name": ["a.example", "*.example.com", "~^x", ".example.org", "_", "a.example"]}, ["http://a.example"]),
        ({"server_name": "_", "public_url": "https://Apps.example.com:8443/"}, ["https://apps.example.com:8443"]),
        ({"server_name": "a.example", "public_url": "https://b.example:443"}, ["https://b.example"]),
        ({"server_name": "a.example", "public_url": "http://[fd00::1]:8080"}, ["http://[fd00::1]:8080"]),
        (None, []),
    ],
)
def test_public_origins(site, origins):
    assert f.public_origins(site) == origins


def test_proxy_apps_carry_the_proxy_fields():
    apps = [app(max_upload_mb=40, sticky="ip_hash", origin_policy="strict"), app(name="b", path="/b/", port=8502, ping_interval=90)]
    addresses = {"child1": "10.0.0.1", "child2": "10.0.0.2"}
    strict, open_ = f.proxy_apps(apps, CHILDREN, addresses, SITE)
    assert strict == {
        "name": "demo", "path": "/streamlitApp/", "backends": ["10.0.0.1:8501", "10.0.0.2:8501"],
        "max_upload_mb": 40, "ping_interval": 30, "sticky": "ip_hash",
        "origins": ["https://apps.example.com:8443", "https://www.example.com:8443"],
    }
    assert (open_["max_upload_mb"], open_["ping_interval"], open_["sticky"], open_["origins"]) == (200, 90, "cookie", [])
    assert f.proxy_apps_errors([strict, open_]) == []
    # The global policy applies to apps that do not set their own.
    assert f.proxy_apps([apps[1]], CHILDREN, addresses, dict(SITE, origin_policy="strict"))[0]["origins"]
    assert f.proxy_apps([apps[1]], CHILDREN, addresses)[0]["origins"] == []


@pytest.mark.parametrize(
    ("over", "start"),
    [
        ({"max_upload_mb": 0}, "nginx_proxy_apps[0].max_upload_mb: 0 is not a whole number"),
        ({"ping_interval": "30"}, "nginx_proxy_apps[0].ping_interval: '30' is not a whole number"),
        ({"sticky": "hash"}, "nginx_proxy_apps[0].sticky: 'hash' is not one of cookie, ip_hash, none"),
        ({"origins": "https://a.example"}, "nginx_proxy_apps[0].origins: must be a list"),
        ({"origins": ["https://a.example/"]}, "nginx_proxy_apps[0].origins[0]: 'https://a.example/' is not 'scheme://host[:port]'"),
        ({"origins": ["https://A.example"]}, "nginx_proxy_apps[0].origins[0]: 'https://A.example' is not"),
        ({"origins": ["https://a.example:443"]}, "nginx_proxy_apps[0].origins[0]: 'https://a.example:443' names the default port"),
    ],
)
def test_proxy_field_rules(over, start):
    item = {"name": "demo", "path": "/x/", "backends": ["10.0.0.1:1"]}
    item.update(over)
    (error,) = f.proxy_apps_errors([item])
    assert error.startswith(start), error

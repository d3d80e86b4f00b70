"""What each container is told: its environment with and without origins,
read back through Streamlit's own CLI."""

import json
import subprocess
import sys

from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import streamlit_app_env
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import streamlit_env
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.streamlit_options import OPTIONS

SECRET = "0123456789abcdef0123456789abcdef"
PROXY = ["10.0.0.10", "fd00::10"]
ORIGINS = ["https://apps.example.com:8443", "https://www.example.com:8443"]
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


def test_without_origins_the_missions_cors_setting_holds():
    env = streamlit_app_env(app(max_upload_mb=40, ping_interval=45, cookie_secret=SECRET), PROXY)
    assert env["STREAMLIT_SERVER_ENABLE_CORS"] == "false"
    assert "STREAMLIT_SERVER_CORS_ALLOWED_ORIGINS" not in env and "STREAMLIT_SERVER_ALLOWED_HOSTS" not in env
    assert env["FORWARDED_ALLOW_IPS"] == "10.0.0.10,fd00::10"
    seen = streamlit_reads(env)
    assert seen["server.enableCORS"] is False
    assert (seen["server.maxUploadSize"], seen["server.websocketPingInterval"]) == (40, 45)
    assert seen["server.cookieSecret"] == SECRET
    assert seen["server.enableXsrfProtection"] is True
    assert (seen["server.baseUrlPath"], seen["server.headless"]) == ("streamlitApp", True)


def test_origins_allow_only_themselves(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("")
    options = {"server.folderWatchBlacklist": ["/tmp", "/var"], "theme.base": "dark", "server.runOnSave": True}
    seen = streamlit_reads(streamlit_app_env(app(origins=ORIGINS, options=options, secrets_file=str(secrets))))
    assert seen["server.enableCORS"] is True
    assert seen["server.corsAllowedOrigins"] == ORIGINS
    assert seen["server.allowedHosts"] == ["apps.example.com", "www.example.com"]
    assert (seen["browser.serverAddress"], seen["browser.serverPort"]) == ("apps.example.com", 8443)
    assert seen["secrets.files"] == [streamlit_env.SECRETS_PATH]
    assert seen["server.folderWatchBlacklist"] == ["/tmp", "/var"]
    assert (seen["theme.base"], seen["server.runOnSave"]) == ("dark", True)


def test_the_spec_defaults_fill_what_an_item_leaves_out():
    env = streamlit_app_env(app())
    assert env["STREAMLIT_SERVER_ENABLE_CORS"] == "false"
    assert env["STREAMLIT_SERVER_MAX_UPLOAD_SIZE"] == "200"
    assert env["STREAMLIT_SERVER_WEBSOCKET_PING_INTERVAL"] == "30"
    assert "FORWARDED_ALLOW_IPS" not in env and "STREAMLIT_SERVER_COOKIE_SECRET" not in env


def test_the_managed_settings_win_over_env_and_options():
    env = streamlit_app_env(app(env={"A": 1, "FLAG": True}, options={"theme.base": "light"}))
    assert (env["A"], env["FLAG"], env["STREAMLIT_THEME_BASE"]) == ("1", "true", "light")
    assert streamlit_env.RESERVED_ENV >= {"STREAMLIT_SERVER_COOKIE_SECRET", "STREAMLIT_SECRETS_FILES", "FORWARDED_ALLOW_IPS"}


def test_managed_options_exist_in_streamlit():
    assert set(streamlit_env.MANAGED_OPTIONS) <= set(OPTIONS)

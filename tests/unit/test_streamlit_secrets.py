"""An app's secrets.toml: the user's file, then the [auth] table of its login, as TOML that
Streamlit reads back exactly (every value parsed with tomllib, never compared as text only)."""

import pathlib
import tomllib

import pytest
import yaml

from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import streamlit_app_env, streamlit_app_secrets_toml
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import streamlit_secrets
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.streamlit_env import SECRETS_PATH

ROOT = pathlib.Path(__file__).resolve().parents[2]
COOKIE = "c00kie-secret-0123456789abcdef"
LOGIN = {
    "client_id": "finance-app",
    "client_secret": "s3cr3t",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    "redirect_uri": "https://apps.example.com/finance/oauth2callback",
}


def container(**over):
    item = {"name": "finance", "path": "/finance/", "image": "finance:1", "port": 8501, "cookie_secret": COOKIE, "login": dict(LOGIN)}
    item.update(over)
    return item


def test_keys_go_into_auth_without_a_provider():
    text = streamlit_app_secrets_toml(container())
    assert tomllib.loads(text) == {"auth": {**LOGIN, "cookie_secret": COOKIE}}


def test_a_provider_gets_its_own_table_and_client_kwargs_theirs():
    login = dict(LOGIN, provider="corp-idp", client_kwargs={"prompt": "login", "max_age": 300, "claims": ["email", "groups"]})
    parsed = tomllib.loads(streamlit_app_secrets_toml(container(login=login)))
    assert parsed == {"auth": {
        "redirect_uri": LOGIN["redirect_uri"], "cookie_secret": COOKIE,
        "corp-idp": {"client_id": "finance-app", "client_secret": "s3cr3t", "server_metadata_url": LOGIN["server_metadata_url"],
                     "client_kwargs": {"prompt": "login", "max_age": 300, "claims": ["email", "groups"]}},
    }}
    parsed = tomllib.loads(streamlit_app_secrets_toml(container(login=dict(LOGIN, client_kwargs={"prompt": "select_account"}))))
    assert parsed["auth"]["client_kwargs"] == {"prompt": "select_account"}


@pytest.mark.parametrize("secret", [
    'quote " and backslash \\ and \\"', "newline\nand\r\ttab", "toml ''' and \"\"\" and ] [auth] = x", "ctrl \x00\x01\x1f\x7f",
    "unicode é ✓ \u2028", "# not a comment", "",
])
def test_every_string_reads_back_exactly(secret):
    login = dict(LOGIN, client_secret=secret, client_id=secret, client_kwargs={secret or "empty": secret, "k": {"nested": secret}})
    parsed = tomllib.loads(streamlit_app_secrets_toml(container(login=login, cookie_secret=COOKIE + secret)))
    assert parsed["auth"]["client_secret"] == secret and parsed["auth"]["client_id"] == secret
    assert parsed["auth"]["cookie_secret"] == COOKIE + secret
    assert parsed["auth"]["client_kwargs"] == {secret or "empty": secret, "k": {"nested": secret}}


def test_numbers_and_booleans_keep_their_type():
    kwargs = {"a": True, "b": False, "c": 3, "d": 1.5, "e": float("inf"), "f": -0.25, "g": [1, "x", False]}
    parsed = tomllib.loads(streamlit_app_secrets_toml(container(login=dict(LOGIN, client_kwargs=kwargs))))
    assert parsed["auth"]["client_kwargs"] == kwargs


def test_the_users_file_comes_first_unchanged():
    user = '[database]\nhost = "db"\n# a trailing comment without newline'
    text = streamlit_app_secrets_toml(container(), user)
    assert text.startswith(user + "\n")
    assert tomllib.loads(text) == {"database": {"host": "db"}, "auth": {**LOGIN, "cookie_secret": COOKIE}}


def test_without_login_the_file_is_the_users():
    assert streamlit_app_secrets_toml(container(login=None), 'token = "x"\n') == 'token = "x"\n'
    assert streamlit_secrets.secrets_toml("", None, COOKIE) == ""


def test_the_same_input_gives_the_same_text():
    # The copy compares checksums: a second run changes nothing.
    login = dict(LOGIN, provider="p", client_kwargs={"b": 1, "a": 2})
    assert streamlit_app_secrets_toml(container(login=login), "x = 1") == streamlit_app_secrets_toml(container(login=login), "x = 1")


@pytest.mark.parametrize(("value", "problem"), [
    (None, "null has no TOML form"), ([1, None], "null has no TOML form"), ({"a": None}, "null has no TOML form"),
    (object(), "has no TOML form"), ("x", None), ([1, "a", {"b": True}], None),
])
def test_value_problem(value, problem):
    found = streamlit_secrets.value_problem(value)
    assert (found is None) if problem is None else problem in found


def test_the_task_that_writes_secrets_hides_them():
    """The copy holds the client secret and the cookie secret: no output, no diff."""
    tasks = yaml.safe_load((ROOT / "roles/streamlit_app/tasks/secrets.yml").read_text())
    write = [t for t in tasks if "ansible.builtin.copy" in t]
    assert len(write) == 1 and write[0]["no_log"] is True and write[0]["diff"] is False
    assert "streamlit_app_secrets_toml" in write[0]["ansible.builtin.copy"]["content"]
    # The loops whose output is shown never carry login.
    role_vars = yaml.safe_load((ROOT / "roles/streamlit_app/vars/main.yml").read_text())
    assert "'login'" in role_vars["__streamlit_app_shown"]


def test_an_app_with_login_alone_reads_the_mounted_secrets():
    env = streamlit_app_env(container())
    assert env["STREAMLIT_SECRETS_FILES"] == SECRETS_PATH
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"] == COOKIE
    # Control: no login, no secrets_file, no secrets.toml.
    assert "STREAMLIT_SECRETS_FILES" not in streamlit_app_env(container(login=None))

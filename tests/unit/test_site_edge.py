"""The site's part of the edge: auth and allow handed to the proxy, forward auth's identity
headers merged into the app's server.trustedUserHeaders, and st.login's [auth] settings with a
redirect_uri derived from the public URL; each bad value named with its fix, the secret never."""

import json

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import streamlit_app_errors
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import site

CHILDREN = ["child1", "child2"]
HOSTS = {"child1": {"bind_address": "10.0.0.11"}, "child2": {"bind_address": "10.0.0.12"}}
MASTERS = ["10.0.0.10"]
PUBLIC = {"streamlit_ops_public_url": "https://apps.example.com"}
SECRET = "Sup3r-s3cret-client-value"
HASH = "$6$saltsalt$" + "a" * 86
BASIC = {"type": "basic", "users": [{"name": "alice", "password_hash": HASH}]}
FORWARD = {"type": "forward", "url": "http://127.0.0.1:4180/oauth2/auth", "signin_url": "https://auth.example.com/oauth2/start"}
LOGIN = {"client_id": "finance-app", "client_secret": SECRET, "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration"}
DEFAULT_HEADERS = {"X-Auth-Request-User": "user", "X-Auth-Request-Email": "email", "X-Auth-Request-Groups": "groups"}


def good(**over):
    app = {"name": "finance", "image": "finance:1.0", "port": 8501}
    app.update(over)
    return app


def errors(*apps, **settings):
    return site.errors({"streamlit_ops_apps": list(apps), **settings}, CHILDREN, HOSTS, MASTERS)


def plan(*apps, **settings):
    return site.plan({"streamlit_ops_apps": list(apps), **settings}, CHILDREN, HOSTS, MASTERS, "")


def containers(roles, host="child1"):
    return roles["children"][host]["containers"]


def test_the_edge_fields_pass():
    assert errors(good(auth=BASIC, allow=["10.0.0.0/8", "192.0.2.7"]), good(name="b", port=8502, auth=FORWARD),
                  good(name="c", port=8503, login=LOGIN), **PUBLIC) == []


def test_basic_auth_and_allow_go_to_the_proxy_only():
    roles = plan(good(auth=BASIC, allow=["10.0.0.0/8"]), good(name="b", port=8502, auth=dict(BASIC, realm="Finance")))
    first, second = roles["proxy_apps"]
    # The spec's defaults fill both auth types alike; each type uses its own.
    assert first["auth"] == dict(BASIC, realm="Restricted", identity_headers=DEFAULT_HEADERS) and first["allow"] == ["10.0.0.0/8"]
    assert second["auth"]["realm"] == "Finance" and "allow" not in second
    assert first["clear_headers"] == []
    for item in containers(roles):
        assert not {"auth", "allow"} & set(item) and "server.trustedUserHeaders" not in item.get("options", {})


def test_no_edge_fields_no_edge_keys():
    roles = plan(good())
    assert not {"auth", "allow"} & set(roles["proxy_apps"][0])
    assert "login" not in containers(roles)[0] and "options" not in containers(roles)[0]


def test_forward_auth_defaults_its_identity_headers_and_st_user_shows_them():
    roles = plan(good(auth=FORWARD))
    assert roles["proxy_apps"][0]["auth"] == dict(FORWARD, identity_headers=DEFAULT_HEADERS, realm="Restricted")
    for host in CHILDREN:
        assert json.loads(containers(roles, host)[0]["options"]["server.trustedUserHeaders"]) == DEFAULT_HEADERS
    # The proxy clears every header the app trusts; the nginx_proxy role leaves out those forward auth sets.
    assert roles["proxy_apps"][0]["clear_headers"] == list(DEFAULT_HEADERS)


@pytest.mark.parametrize("own", [
    {"X-Forwarded-Preferred-Username": "username", "X-Auth-Request-Email": "mail"},
    json.dumps({"X-Forwarded-Preferred-Username": "username", "X-Auth-Request-Email": "mail"}),
])
def test_forward_auth_merges_into_the_users_mapping_and_wins(own):
    auth = dict(FORWARD, identity_headers={"X-Auth-Request-User": "user", "X-Auth-Request-Email": "email"})
    roles = plan(good(auth=auth, options={"server.trustedUserHeaders": own, "theme.base": "dark"}))
    options = containers(roles)[0]["options"]
    assert json.loads(options["server.trustedUserHeaders"]) == {
        "X-Forwarded-Preferred-Username": "username", "X-Auth-Request-Email": "email", "X-Auth-Request-User": "user"}
    assert options["theme.base"] == "dark"
    assert errors(good(auth=auth, options={"server.trustedUserHeaders": json.dumps({"X-Forwarded-Preferred-Username": "username"})})) == []


def test_forward_auth_with_no_identity_headers_leaves_the_option_alone():
    roles = plan(good(auth=dict(FORWARD, identity_headers={}), options={"theme.base": "dark"}))
    assert containers(roles)[0]["options"] == {"theme.base": "dark"}
    assert roles["proxy_apps"][0]["auth"]["identity_headers"] == {}


def test_a_header_clash_on_one_st_user_key_is_named():
    app = good(auth=FORWARD, options={"server.trustedUserHeaders": json.dumps({"X-Forwarded-User": "user"})})
    assert errors(app) == [
        "streamlit_ops_apps[0].auth.identity_headers: maps X-Auth-Request-User to the st.user key 'user', which "
        "options['server.trustedUserHeaders'] maps X-Forwarded-User to as well, and Streamlit refuses two headers for one key; "
        "remove X-Forwarded-User from the option, or map X-Auth-Request-User to another key."
    ]
    # The plan hands the container a mapping Streamlit starts with: the auth's header keeps the key.
    assert json.loads(containers(plan(app))[0]["options"]["server.trustedUserHeaders"]) == DEFAULT_HEADERS


def test_a_broken_user_mapping_is_named_even_when_forward_auth_rewrites_it():
    problems = errors(good(auth=FORWARD, options={"server.trustedUserHeaders": "{not json"}))
    assert len(problems) == 1 and problems[0].startswith("streamlit_ops_apps[0].options: server.trustedUserHeaders takes the JSON text")
    # Control: the same value without forward auth gets the same message from the container's rule.
    assert errors(good(options={"server.trustedUserHeaders": "{not json"})) == problems


def test_login_gets_the_redirect_uri_from_the_first_public_origin():
    roles = plan(good(path="/fin/", login=LOGIN), nginx_proxy_server_name="apps.example.com www.example.com",
                 nginx_proxy_tls_certificate="/c.pem", nginx_proxy_tls_certificate_key="/k.pem", nginx_proxy_https_port=8443)
    for host in CHILDREN:
        item = containers(roles, host)[0]
        assert item["login"] == dict(LOGIN, redirect_uri="https://apps.example.com:8443/fin/oauth2callback")
        # Replicas share the cookie secret, which the role writes as [auth].cookie_secret too.
        assert item["cookie_secret"] == containers(roles, "child2")[0]["cookie_secret"]
    assert "login" not in roles["proxy_apps"][0]
    roles = plan(good(login=dict(LOGIN, provider="corp", client_kwargs={"prompt": "login"})), **PUBLIC)
    assert containers(roles)[0]["login"] == dict(LOGIN, provider="corp", client_kwargs={"prompt": "login"},
                                                 redirect_uri="https://apps.example.com/finance/oauth2callback")


def test_a_given_redirect_uri_must_be_the_derived_one():
    assert errors(good(login=dict(LOGIN, redirect_uri="https://apps.example.com/finance/oauth2callback")), **PUBLIC) == []
    assert errors(good(login=dict(LOGIN, redirect_uri="https://apps.example.com/oauth2callback")), **PUBLIC) == [
        "streamlit_ops_apps[0].login.redirect_uri: 'https://apps.example.com/oauth2callback' is not "
        "'https://apps.example.com/finance/oauth2callback', the public URL + path + 'oauth2callback' where Streamlit answers the "
        "identity provider behind this proxy; remove redirect_uri to have it derived, or set streamlit_ops_public_url to the URL "
        "users browse to (register the same URL at the provider)."
    ]


def test_login_needs_a_public_origin():
    problems = errors(good(login=LOGIN))
    assert len(problems) == 1, problems
    assert problems[0].startswith("streamlit_ops_apps[0].login: st.login needs the public URL for its redirect_uri")
    assert "set streamlit_ops_public_url, e.g. 'https://apps.example.com'" in problems[0]
    assert errors(good(login=LOGIN), nginx_proxy_server_name="apps.example.com") == []


@pytest.fixture
def auth_secrets(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text(f'token = "x"\n[auth]\nclient_secret = "{SECRET}"\n')
    return str(path)


LOGIN_RULES = [
    ({"client_id": " "}, "streamlit_ops_apps[0].login.client_id: is empty; set the client id your identity provider issued"),
    ({"client_secret": ""}, "streamlit_ops_apps[0].login.client_secret: is empty; set the client secret your identity provider issued"),
    ({"server_metadata_url": "idp.example.com/.well-known/openid-configuration"},
     "streamlit_ops_apps[0].login.server_metadata_url: 'idp.example.com/.well-known/openid-configuration' is not an http(s) URL; "
     "write the provider's discovery document"),
    ({"server_metadata_url": "ftp://idp.example.com/x"}, "streamlit_ops_apps[0].login.server_metadata_url: 'ftp://idp.example.com/x' is not"),
    ({"provider": "corp_idp"}, "streamlit_ops_apps[0].login.provider: 'corp_idp' holds '_', which Streamlit refuses in a provider name; "
                               "write e.g. 'corp-idp'"),
    ({"provider": "corp idp"}, "streamlit_ops_apps[0].login.provider: 'corp idp' is not a name of letters, digits and '-'; write e.g. 'corp-idp'"),
    ({"client_kwargs": {"prompt": None}}, "streamlit_ops_apps[0].login.client_kwargs: prompt: null has no TOML form"),
    ({"scope": "openid"}, "streamlit_ops_apps[0].login.scope: is not a known field; the known fields are client_id"),
]


@pytest.mark.parametrize(("over", "start"), LOGIN_RULES)
def test_login_rules_name_the_field_and_the_fix(over, start):
    problems = errors(good(login=dict(LOGIN, **over)), **PUBLIC)
    assert len(problems) == 1, problems
    assert problems[0].startswith(start), problems


def test_a_login_that_is_not_a_dict_is_not_echoed():
    assert errors(good(login=SECRET), **PUBLIC) == [
        "streamlit_ops_apps[0].login: must be a dict with the fields client_id, client_secret, server_metadata_url, provider, "
        "client_kwargs, redirect_uri."]


def test_login_with_an_auth_table_in_secrets_file_is_refused(auth_secrets):
    problems = errors(good(login=LOGIN, secrets_file=auth_secrets), **PUBLIC)
    assert problems == [
        f"streamlit_ops_apps[0].login: secrets_file {auth_secrets!r} already has an [auth] table, and login writes [auth] "
        "itself; move those settings into login and remove [auth] from the file, or remove login."
    ]
    # Control: the same file is fine without login.
    assert errors(good(secrets_file=auth_secrets), **PUBLIC) == []


def test_no_message_holds_the_client_secret(auth_secrets):
    """Every login rule broken at once, with the secret in every field that can hold it."""
    login = dict(LOGIN, client_id=SECRET, server_metadata_url=f"https://{SECRET}", provider=f"{SECRET}_x",
                 client_kwargs={"x": None}, redirect_uri="https://elsewhere.example.com/oauth2callback")
    problems = errors(good(login=login, secrets_file=auth_secrets), **PUBLIC) + errors(good(login=login))
    problems += errors(good(login=SECRET), **PUBLIC)
    assert len(problems) >= 6
    assert not [p for p in problems if SECRET in p and "provider" not in p and "server_metadata_url" not in p], problems
    assert not [p for p in problems if "client_secret" in p and SECRET in p]


@pytest.mark.parametrize(("old", "new"), [("streamlit_trusted_proxies", "nginx_proxy_trusted_proxies"),
                                          ("streamlit_edge_idle_timeout", "nginx_proxy_edge_idle_timeout")])
def test_the_edge_issues_names_get_the_collections(old, new):
    problems = site.errors({"streamlit_ops_apps": [good()], old: ["10.0.0.0/8"]}, CHILDREN, HOSTS, MASTERS)
    assert problems[0] == f"{old} is called {new} in this collection; set {new} instead."


ROLE_LOGIN = dict(LOGIN, redirect_uri="https://apps.example.com/finance/oauth2callback")


def role(**over):
    item = {"name": "finance", "path": "/finance/", "image": "finance:1.0", "port": 8501, "cookie_secret": "0123456789abcdef0123",
            "login": dict(ROLE_LOGIN)}
    item.update(over)
    return streamlit_app_errors([item], "10.0.0.11")


def test_the_role_takes_a_login_with_a_cookie_secret():
    assert role() == []
    assert role(login=dict(ROLE_LOGIN, provider="corp", client_kwargs={"prompt": "login"})) == []


def test_the_role_needs_the_cookie_secret_and_the_redirect_uri():
    assert role(cookie_secret=None) == [
        "streamlit_app_containers[0].login: needs cookie_secret, which signs the login cookie and becomes [auth].cookie_secret; "
        "set cookie_secret on this item, the same on every replica of the app (e.g. 'openssl rand -hex 32', vaulted)."
    ]
    login = dict(ROLE_LOGIN)
    del login["redirect_uri"]
    problems = role(login=login)
    assert len(problems) == 1 and problems[0].startswith("streamlit_app_containers[0].login.redirect_uri: is required"), problems


@pytest.mark.parametrize("uri", ["https://apps.example.com/oauth2callback", "https://apps.example.com/finance/callback",
                                 "apps.example.com/finance/oauth2callback", "https://apps.example.com/finance/oauth2callback?x=1"])
def test_the_roles_redirect_uri_ends_in_the_apps_callback(uri):
    assert role(login=dict(ROLE_LOGIN, redirect_uri=uri)) == [
        f"streamlit_app_containers[0].login.redirect_uri: {uri!r} is not <public origin>/finance/oauth2callback, where Streamlit "
        "answers the provider's callback under this app's path; write e.g. 'https://apps.example.com/finance/oauth2callback'."
    ]


def test_the_roles_messages_hold_no_secret():
    problems = role(login=dict(ROLE_LOGIN, client_id="", client_secret=SECRET, provider="a_b", redirect_uri="x"), cookie_secret=None)
    problems += streamlit_app_errors([{"name": "a", "path": "/a/", "image": "a:1", "port": 1, "login": SECRET}], "10.0.0.11")
    assert len(problems) == 5 and not [p for p in problems if SECRET in p], problems


@pytest.mark.parametrize(("headers", "message", "mapping"), [
    ({"X-User": 1}, "streamlit_ops_apps[0].auth.identity_headers: X-User: 1 is not an st.user key; map the header to a name, e.g. 'user' or 'email'.",
     None),
    ({"X-User": "user", "X-Name": "user"},
     "streamlit_ops_apps[0].auth.identity_headers: maps both X-User and X-Name to the st.user key 'user', which Streamlit refuses at start; "
     "give each header its own key.", {"X-User": "user"}),
])
def test_identity_headers_are_st_user_keys(headers, message, mapping):
    app = good(auth=dict(FORWARD, identity_headers=headers))
    assert errors(app) == [message]
    # The container still gets a mapping Streamlit starts with (none at all when no header is usable).
    options = containers(plan(app))[0].get("options") or {}
    assert (json.loads(options["server.trustedUserHeaders"]) if mapping else options.get("server.trustedUserHeaders")) == mapping

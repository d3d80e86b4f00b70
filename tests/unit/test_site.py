"""The site playbook's rules and its mapping of the inventory to the roles' inputs."""

import json

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import site

CHILDREN = ["child1", "child2"]
HOSTS = {"child1": {"bind_address": "10.0.0.11"}, "child2": {"bind_address": "fd00::12"}}
MASTERS = ["10.0.0.10"]


def good(**over):
    app = {"name": "demo", "image": "demo:1.0", "port": 8501}
    app.update(over)
    return app


def errors(*apps, hosts=None, **settings):
    return site.errors({"streamlit_ops_apps": list(apps), **settings}, CHILDREN, hosts or HOSTS, MASTERS)


def plan(*apps, kept="", hosts=None, **settings):
    return site.plan({"streamlit_ops_apps": list(apps), **settings}, CHILDREN, hosts or HOSTS, MASTERS, kept)


def test_good_apps_pass():
    assert errors(good(), good(name="other", port=8502, hosts=["child2"], env={"A": 1})) == []


@pytest.mark.parametrize(("old", "new"), sorted(site.RENAMED.items()))
def test_every_old_name_gets_its_new_name(old, new):
    problems = site.errors({"streamlit_ops_apps": [good()], old: "x"}, CHILDREN, HOSTS, MASTERS)
    assert problems[0] == f"{old} was renamed in 1.0.0: set {new} instead."
    assert site.errors({old: "x"}, playbook="remove") == [f"{old} was renamed in 1.0.0: set {new} instead."]


def test_the_remove_playbook_needs_no_apps():
    assert site.errors({}, playbook="remove") == []


@pytest.mark.parametrize(
    ("given", "start"),
    [
        ({}, "streamlit_ops_apps is not set: define it for all hosts"),
        ({"streamlit_ops_apps": []}, "streamlit_ops_apps: is empty; list at least one app"),
        ({"streamlit_ops_apps": "demo"}, "streamlit_ops_apps: must be a list of dicts"),
        ({"streamlit_ops_apps": [good()], "streamlit_ops_origin_policy": "closed"},
         "streamlit_ops_origin_policy: 'closed' is not one of open, same-origin, strict"),
        ({"streamlit_ops_apps": [good()], "streamlit_ops_colour": 1}, "streamlit_ops_colour: is not a known variable"),
        ({"streamlit_ops_apps": [good()], "streamlit_app_health_timeot": 1},
         "streamlit_app_health_timeot: is not a known variable; did you mean 'streamlit_app_health_timeout'?"),
        ({"streamlit_ops_apps": [good()], "streamlit_app_health_timeout": "long"}, "streamlit_app_health_timeout: 'long' is not a whole number"),
        ({"streamlit_ops_apps": [good(hosts=[])]}, "streamlit_ops_apps[0].hosts: must be a non-empty list"),
        ({"streamlit_ops_apps": [good(hosts=["child9"])]}, "streamlit_ops_apps[0].hosts: child9 not in the group streamlit_children"),
        ({"streamlit_ops_apps": [good(hosts=["child1", "child1"])]}, "streamlit_ops_apps[0].hosts: lists a host twice"),
        ({"streamlit_ops_apps": [good(origin_policy="strict")]}, "streamlit_ops_apps[0].origin_policy: strict needs a public origin"),
        ({"streamlit_ops_apps": [good()], "streamlit_ops_origin_policy": "strict"}, "streamlit_ops_apps[0].streamlit_ops_origin_policy: strict needs"),
        ({"streamlit_ops_apps": [good()], "streamlit_ops_origin_policy": "strict", "nginx_proxy_server_name": "*.example.com"},
         "streamlit_ops_apps[0].streamlit_ops_origin_policy: strict"),
        ({"streamlit_ops_apps": [good()], "streamlit_ops_public_url": "apps.example.com"},
         "streamlit_ops_public_url: 'apps.example.com' is not 'http(s)://host[:port]'"),
        ({"streamlit_ops_apps": [good()], "streamlit_ops_public_url": "https://apps.example.com/app/"},
         "streamlit_ops_public_url: 'https://apps.example.com/app/'"),
        ({"streamlit_ops_apps": [good()], "streamlit_ops_public_url": "https://apps.example.com:99999"},
         "streamlit_ops_public_url: 'https://apps.example.com:99999'"),
        ({"streamlit_ops_apps": [good(), good(path="/other/", port=8502)]}, "streamlit_ops_apps[1].name: 'demo' is already used by streamlit_ops_apps[0]"),
        ({"streamlit_ops_apps": [good(hosts=["child1"]), good(name="b", path="/demo/", hosts=["child2"])]},
         "streamlit_ops_apps[1].path: '/demo/' is already used by streamlit_ops_apps[0]"),
    ],
)
def test_site_rules(given, start):
    problems = site.errors(given, CHILDREN, HOSTS, MASTERS)
    assert len(problems) == 1, problems
    assert problems[0].startswith(start), problems


def test_strict_needs_only_a_derivable_origin():
    assert errors(good(origin_policy="strict"), nginx_proxy_server_name="apps.example.com") == []
    assert errors(good(origin_policy="strict"), streamlit_ops_public_url="https://apps.example.com:8443") == []


def test_each_child_address_is_checked_where_it_runs_an_app():
    hosts = {"child1": {"bind_address": ""}, "child2": {"bind_address": "127.0.0.1"}}
    assert errors(good(), hosts=hosts) == [
        "streamlit_app_bind_address of child1: '' is not an IP address; set it to an IP of this host that the proxy reaches it at.",
        "streamlit_app_bind_address of child2: '127.0.0.1' is not an address the proxy reaches this host at (all addresses or loopback); "
        "set one IP of this host.",
    ]
    # A child that runs no app needs no address.
    assert errors(good(hosts=["child2"]), hosts={"child1": {"bind_address": ""}, "child2": HOSTS["child2"]}) == []


def test_children_and_backends_follow_hosts():
    roles = plan(good(), good(name="b", port=8502, hosts=["child2"]))
    assert [c["name"] for c in roles["children"]["child1"]["containers"]] == ["demo"]
    assert [c["name"] for c in roles["children"]["child2"]["containers"]] == ["demo", "b"]
    assert roles["children"]["child2"]["labels"] == ["streamlit_ops_apps[0]", "streamlit_ops_apps[1]"]
    assert roles["children"]["child1"]["containers"][0]["path"] == "/demo/"
    assert roles["proxy_apps"][0]["backends"] == ["10.0.0.11:8501", "[fd00::12]:8501"]
    assert roles["proxy_apps"][1]["backends"] == ["[fd00::12]:8502"]
    assert roles["children"]["child1"]["bind_address"] == "10.0.0.11"


def test_the_children_trust_the_masters_unless_told_otherwise():
    hosts = {"child1": {"bind_address": "10.0.0.11", "forwarded_allow_ips": ["10.9.0.0/16"]},
             "child2": {"bind_address": "10.0.0.12", "forwarded_allow_ips": None}}
    roles = plan(good(), hosts=hosts)
    assert roles["children"]["child1"]["forwarded_allow_ips"] == ["10.9.0.0/16"]
    assert roles["children"]["child2"]["forwarded_allow_ips"] == MASTERS


def test_the_children_let_the_masters_through_their_firewall_unless_told_otherwise():
    hosts = {"child1": {"bind_address": "10.0.0.11", "firewall_allow": ["10.8.0.5"]},
             "child2": {"bind_address": "10.0.0.12", "firewall_allow": None}}
    roles = plan(good(), hosts=hosts)
    assert roles["children"]["child1"]["firewall_allow"] == ["10.8.0.5"]
    assert roles["children"]["child2"]["firewall_allow"] == MASTERS
    # An empty list set on purpose stays empty: the role then names the variable.
    roles = plan(good(), hosts={"child1": {"bind_address": "10.0.0.11", "firewall_allow": []}})
    assert roles["children"]["child1"]["firewall_allow"] == []


def test_proxy_apps_carry_the_proxy_fields():
    roles = plan(good(max_upload_mb=40, sticky="ip_hash", origin_policy="strict"), good(name="b", port=8502, ping_interval=90),
                 nginx_proxy_server_name="apps.example.com www.example.com", nginx_proxy_tls_certificate="/c.pem",
                 nginx_proxy_tls_certificate_key="/k.pem", nginx_proxy_https_port=8443)
    strict, open_ = roles["proxy_apps"]
    origins = ["https://apps.example.com:8443", "https://www.example.com:8443"]
    assert strict == {
        "name": "demo", "path": "/demo/", "backends": ["10.0.0.11:8501", "[fd00::12]:8501"],
        "max_upload_mb": 40, "ping_interval": 30, "sticky": "ip_hash", "origins": origins, "origin_policy": "strict",
        "clear_headers": [],
    }
    # same-origin, the default: the public origins are allowed besides each request's Host.
    assert (open_["max_upload_mb"], open_["ping_interval"], open_["sticky"], open_["origins"], open_["origin_policy"]) == (
        200, 90, "cookie", origins, "same-origin")
    containers = roles["children"]["child1"]["containers"]
    assert containers[0]["origins"] == origins and "origins" not in containers[1]


def test_proxy_apps_open_and_identity_headers():
    roles = plan(good(origin_policy="open", options={"server.trustedUserHeaders": {"X-Forwarded-User": "email"}}),
                 good(name="b", port=8502, options={"server.trustedUserHeaders": '{"X-Auth-Name": "name", "X-Auth-Mail": "email"}'}),
                 good(name="c", port=8503, options={"theme.base": "dark"}))
    first, second, third = roles["proxy_apps"]
    assert (first["origin_policy"], first["origins"], first["clear_headers"]) == ("open", [], ["X-Forwarded-User"])
    assert second["clear_headers"] == ["X-Auth-Name", "X-Auth-Mail"] and third["clear_headers"] == []
    # Streamlit keeps server.enableCORS=false for open and same-origin: the children get no origins.
    assert all("origins" not in container for container in roles["children"]["child1"]["containers"])


def test_redirect_goes_to_an_https_public_url():
    assert plan(good(), streamlit_ops_public_url="https://apps.example.com:8443")["proxy_redirect_url"] == "https://apps.example.com:8443"
    # Control: no public URL, or a plain-HTTP one (it would loop), keeps https://$host.
    assert plan(good())["proxy_redirect_url"] is None
    assert plan(good(), streamlit_ops_public_url="http://apps.example.com:8080")["proxy_redirect_url"] is None
    assert plan(good(), nginx_proxy_redirect_url="https://x.example.com")["proxy_redirect_url"] == "https://x.example.com"


def test_cookie_secrets_are_generated_once_and_kept():
    first = plan(good(), good(name="b", port=8502, cookie_secret="given-secret-0123456789"))
    secret = first["cookie_secrets"]["demo"]
    assert len(secret) == 64 and list(first["cookie_secrets"]) == ["demo"] and first["cookie_secrets_changed"]
    replicas = [c["cookie_secret"] for child in first["children"].values() for c in child["containers"] if c["name"] == "demo"]
    assert replicas == [secret, secret]
    again = plan(good(), good(name="b", port=8502, cookie_secret="given-secret-0123456789"), kept=json.dumps(first["cookie_secrets"]))
    assert again["cookie_secrets"] == first["cookie_secrets"] and not again["cookie_secrets_changed"]
    # An app that is gone loses its kept secret; a broken file is treated as none.
    assert plan(good(name="b", port=8502), kept=json.dumps({"demo": secret}))["cookie_secrets_changed"]
    assert plan(good(), kept="{broken")["cookie_secrets"]["demo"] != secret


@pytest.mark.parametrize(
    ("settings", "origins"),
    [
        ({}, []),
        ({"nginx_proxy_server_name": "apps.example.com"}, ["http://apps.example.com"]),
        ({"nginx_proxy_server_name": "Apps.Example.com", "nginx_proxy_listen_port": 8080}, ["http://apps.example.com:8080"]),
        ({"nginx_proxy_server_name": "apps.example.com", "nginx_proxy_tls_certificate": "/c"}, ["https://apps.example.com"]),
        ({"nginx_proxy_server_name": "apps.example.com", "nginx_proxy_tls_certificate": "/c", "nginx_proxy_https_port": 8443},
         ["https://apps.example.com:8443"]),
        ({"nginx_proxy_server_name": "a.example *.example.com ~^x .example.org _ a.example"}, ["http://a.example"]),
        ({"streamlit_ops_public_url": "https://Apps.example.com:8443/"}, ["https://apps.example.com:8443"]),
        ({"nginx_proxy_server_name": "a.example", "streamlit_ops_public_url": "https://b.example:443"}, ["https://b.example"]),
        ({"streamlit_ops_public_url": "http://[fd00::1]:8080"}, ["http://[fd00::1]:8080"]),
    ],
)
def test_public_origins(settings, origins):
    assert plan(good(origin_policy="strict"), **settings)["proxy_apps"][0]["origins"] == origins

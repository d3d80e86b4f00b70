# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The nginx_proxy role's templates, its validate step and its interface.

The templates are rendered by the real ansible.builtin.template module
(tests/unit/nginx/render.yml, one ansible-playbook run per session), parsed
with crossplane and asserted on as structure, then checked by the real
`nginx -t`. A shape that bypasses validation must fail `nginx -t`, so that
check is shown to be able to fail. The tuned nginx.conf is compared with this
machine's Debian nginx.conf and loaded by `nginx -t` together with the role's
files and a site of someone else's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import time
import types
from pathlib import Path
from urllib.parse import urlsplit

import crossplane
import pytest
import yaml
from ansible_collections.streamlit_ops.deploy.plugins.filter.nginx_proxy import nginx_proxy_apps, nginx_proxy_htpasswd, nginx_proxy_sizing
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.nginx_proxy_rules import MAIN_CONFIG_RELEASES
from ansible_collections.streamlit_ops.deploy.plugins.modules.websocket_probe import probe

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "nginx_proxy"
FIXTURES = Path(__file__).resolve().parent / "nginx"
SHAPES = yaml.safe_load((FIXTURES / "shapes.yml").read_text())
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())

MAIN = "nginx.conf"
CONF = "conf.d/streamlit_ops_deploy.conf"
SNIPPET = "snippets/streamlit_ops_deploy.conf"
SITE = "sites-available/streamlit_ops_deploy"
SNIPPET_DEST = ROLE_VARS["__nginx_proxy_snippet_file"]
ACCESS_LOG = ROLE_VARS["__nginx_proxy_access_log"]

GOOD = [name for name, shape in SHAPES.items() if shape["nginx_t"] == "pass"]
BAD = [name for name, shape in SHAPES.items() if shape["nginx_t"] == "fail"]
# render.yml fixes the CPU count the role's validate step would read.
RENDER_CPUS = yaml.safe_load((FIXTURES / "render.yml").read_text())[0]["vars"]["__nginx_proxy_host"]["nginx"]["cpus"]
SERVER = [name for name in GOOD if {**DEFAULTS, **SHAPES[name]["vars"]}["nginx_proxy_server"]]
DROPIN = [name for name in GOOD if name not in SERVER]
MANAGED = [name for name in SERVER if {**DEFAULTS, **SHAPES[name]["vars"]}["nginx_proxy_manage_main_config"]]
UNMANAGED = [name for name in GOOD if name not in MANAGED]
# The Nginx version render.yml assumes per Debian release (as validate does
# when it cannot ask the binary).
RELEASE_VERSIONS = ROLE_VARS["__nginx_proxy_release_versions"]
STOCK_MAIN = Path("/etc/nginx/nginx.conf")
# Debian's libnginx-mod-http-brotli-filter (tests/host-setup installs it).
BROTLI_SO = "/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so"
# Debian's stock nginx.conf per release, from nginx-common 1.22.1-9+deb12u11 and
# 1.26.3-3+deb13u7; the md5s are what dpkg records for the conffile.
STOCK_BY_RELEASE = {release: FIXTURES / "stock" / f"{release}.conf" for release in ("bookworm", "trixie")}
STOCK_MD5 = {"bookworm": "e5398edc0b51497dba606859fb13a86e", "trixie": "fadf2b090b18f83f2ec4ae6813d86719"}


def _tool(name: str) -> str:
    """A console script of the running venv, else one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        pytest.fail("nginx is needed for the `nginx -t` checks: apt-get install -y nginx")
    return found


def _ansible_playbook(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("ansible-playbook"), *args],
        cwd=REPO,  # the repo's ansible.cfg resolves streamlit_ops.deploy.*
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _app_vars(shape: str) -> dict:
    return {**DEFAULTS, **SHAPES[shape]["vars"]}


def _apps(shape: str) -> list[dict]:
    """The shape's apps with the optional fields filled in as the role does."""
    return nginx_proxy_apps(_app_vars(shape)["nginx_proxy_apps"])


def _tls(shape: str) -> bool:
    return bool(_app_vars(shape)["nginx_proxy_tls_certificate"])


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _rendered_version(shape: str) -> tuple[int, ...]:
    return _version(RELEASE_VERSIONS[_app_vars(shape).get("render_codename", "bookworm")])


def _timeout(app: dict) -> str:
    """vars/main.yml: 3 ping intervals, never below Nginx's 60 s default."""
    return f"{max(3 * app['ping_interval'], 60)}s"


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """Render every shape once; returns the directory holding one folder per shape."""
    root = tmp_path_factory.mktemp("nginx_proxy_render")
    hosts = {
        name: {**shape["vars"], "ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for name, shape in SHAPES.items()
    }
    # The role's defaults are group vars, below each shape's host vars, as
    # role defaults sit below a playbook's role vars.
    inventory = root / "inventory.json"
    inventory.write_text(json.dumps({"all": {"vars": DEFAULTS, "hosts": hosts}}))
    out = root / "out"
    result = _ansible_playbook("-i", str(inventory), str(FIXTURES / "render.yml"), "-e", f"render_dir={out}")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _parse(path: Path) -> list[dict]:
    # single: never follow includes into the host's /etc/nginx. check_ctx off:
    # a conf.d file or snippet is only valid inside http {} or server {}.
    payload = crossplane.parse(str(path), single=True, check_ctx=False, comments=False)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"][0]["parsed"]


def _named(block: list[dict], directive: str) -> list[dict]:
    return [d for d in block if d["directive"] == directive]


def _one(block: list[dict], directive: str) -> list[str]:
    found = _named(block, directive)
    assert len(found) == 1, f"{directive}: {found}"
    return found[0]["args"]


# --- conf.d: map, log format, upstreams ---------------------------------------------------------


@pytest.mark.parametrize("shape", GOOD)
def test_websocket_map_is_prefixed(rendered, shape):
    maps = _named(_parse(rendered / shape / CONF), "map")
    apps = _apps(shape)
    same = [app for app in apps if app["origin_policy"] == "same-origin"]
    # One for the Connection header, one for the scheme passed on, two per app
    # with strict origins; the same-origin guard's three shared maps, and one
    # or two per such app.
    assert len(maps) == (2 + 2 * len([app for app in apps if app["origin_policy"] == "strict"])
                         + (3 if same else 0) + sum(1 + bool(app["origins"]) for app in same))
    assert maps[0]["args"] == ["$http_upgrade", "$streamlit_ops_deploy_connection"]
    # "" and not "close" for plain requests, or no upstream connection could
    # return to the keepalive pool.
    assert {d["directive"]: d["args"] for d in maps[0]["block"]} == {"default": ["upgrade"], "": [""]}


@pytest.mark.parametrize("shape", GOOD)
def test_log_format_shows_the_upstream(rendered, shape):
    args = _one(_parse(rendered / shape / CONF), "log_format")
    assert args[0] == "streamlit_ops_deploy"
    fmt = "".join(args[1:])
    for variable in ("$upstream_addr", "$status", "$request"):
        assert re.search(re.escape(variable) + r"\b", fmt), variable


@pytest.mark.parametrize("shape", GOOD)
def test_one_upstream_per_app_in_order(rendered, shape):
    apps = _app_vars(shape)["nginx_proxy_apps"]
    upstreams = _named(_parse(rendered / shape / CONF), "upstream")
    assert [u["args"] for u in upstreams] == [[f"streamlit_ops_deploy_{app['name']}"] for app in apps]
    keepalive = _app_vars(shape)["nginx_proxy_upstream_keepalive"]
    balancing = {
        # Never $cookie__streamlit_xsrf: Streamlit renews it on every health answer.
        "cookie": [("hash", ["$uid_got$uid_set", "consistent"])],
        "ip_hash": [("ip_hash", [])],
        "none": [],
    }
    for app, upstream in zip(_apps(shape), upstreams):
        servers = _named(upstream["block"], "server")
        # max_fails/fail_timeout: a dead child is skipped, by hash too.
        # nginx_proxy_drained (a rolling update's drain) adds "down", nothing else.
        drained = _app_vars(shape)["nginx_proxy_drained"]
        assert [d["args"] for d in servers] == [
            [backend, "max_fails=1", "fail_timeout=10s"] + (["down"] if backend in drained else []) for backend in app["backends"]
        ]
        # The balancing method first (keepalive must follow it), then a pool
        # of idle connections for plain HTTP requests, or none at all.
        others = [(d["directive"], d["args"]) for d in upstream["block"] if d["directive"] != "server"]
        assert others == balancing[app["sticky"]] + ([("keepalive", [str(keepalive)])] if keepalive else [])


@pytest.mark.parametrize("shape", GOOD)
def test_strict_origins_are_two_maps_per_app(rendered, shape):
    maps = {tuple(d["args"]): d["block"] for d in _named(_parse(rendered / shape / CONF), "map")}
    for app in _apps(shape):
        key = app["name"].replace("-", "_")
        allowed = maps.get(("$http_origin", f"$streamlit_ops_deploy_origin_{key}"))
        refuse = maps.get((f"$http_upgrade:$streamlit_ops_deploy_origin_{key}", f"$streamlit_ops_deploy_refuse_{key}"))
        if app["origin_policy"] != "strict":
            assert allowed is None and refuse is None
            continue
        assert [(d["directive"], d["args"]) for d in allowed] == [("default", ["0"])] + [(o, ["1"]) for o in app["origins"]]
        # Refused: a non-empty Upgrade with an origin not listed.
        assert [(d["directive"], d["args"]) for d in refuse] == [("default", ["0"]), ("~^.+:0$", ["1"])]


def test_origin_policy_follows_origins_unless_set():
    """null keeps the role's earlier meaning (origins listed: strict); otherwise same-origin, the new default."""
    apps = nginx_proxy_apps([{"name": "a", "path": "/a/", "backends": ["10.0.0.1:1"]},
                             {"name": "b", "path": "/b/", "backends": ["10.0.0.1:2"], "origins": ["https://x.test"]},
                             {"name": "c", "path": "/c/", "backends": ["10.0.0.1:3"], "origins": ["https://x.test:8443"],
                              "origin_policy": "same-origin", "clear_headers": ["X-User", "x-user", "X-Mail"]}])
    assert [app["origin_policy"] for app in apps] == ["same-origin", "strict", "same-origin"]
    assert apps[2]["origin_authorities"] == ["x.test:8443"]
    # Once each whatever the case: Nginx matches header names without case.
    assert apps[2]["clear_headers"] == ["X-Mail", "x-user"] or apps[2]["clear_headers"] == ["X-Mail", "X-User"]


@pytest.mark.parametrize("shape", GOOD)
def test_same_origin_guard_maps(rendered, shape):
    maps = {tuple(d["args"]): d["block"] for d in _named(_parse(rendered / shape / CONF), "map")}
    same = [app for app in _apps(shape) if app["origin_policy"] == "same-origin"]
    shared = [("$http_origin", "$streamlit_ops_deploy_origin_authority"),
              ("$http_host", "$streamlit_ops_deploy_host_authority"),
              ("$streamlit_ops_deploy_origin_authority|$streamlit_ops_deploy_host_authority", "$streamlit_ops_deploy_same_origin")]
    assert all((key in maps) == bool(same) for key in shared)
    for app in same:
        key = app["name"].replace("-", "_")
        public = maps.get(("$streamlit_ops_deploy_origin_authority", f"$streamlit_ops_deploy_public_{key}"))
        if app["origins"]:
            assert [(d["directive"], d["args"]) for d in public] == [("default", ["0"])] + [(a, ["1"]) for a in app["origin_authorities"]]
            source = f"$http_upgrade:${{streamlit_ops_deploy_same_origin}}$streamlit_ops_deploy_public_{key}"
        else:
            assert public is None
            source = "$http_upgrade:${streamlit_ops_deploy_same_origin}0"
        refuse = maps[(source, f"$streamlit_ops_deploy_refuse_{key}")]
        # Refused: an upgrade neither same-origin nor from a public origin.
        assert [(d["directive"], d["args"]) for d in refuse] == [("default", ["0"]), ("~^.+:00$", ["1"])]


# --- snippet: the app locations ------------------------------------------------------------------


def _app_locations(rendered: Path, shape: str) -> list[dict]:
    """The app locations of the snippet, without forward auth's internal and sign-in locations."""
    return [d for d in _parse(rendered / shape / SNIPPET) if len(d["args"]) == 1 and not d["args"][0].startswith("@")]


@pytest.mark.parametrize("shape", GOOD)
def test_only_locations_in_snippet_in_order(rendered, shape):
    parsed = _parse(rendered / shape / SNIPPET)
    expected = []
    for app in _apps(shape):
        if (app["auth"] or {}).get("type") == "forward":
            key = app["name"].replace("-", "_")
            expected += [["=", f"/_streamlit_ops_auth/{app['name']}"], [f"@streamlit_ops_deploy_signin_{key}"]]
        expected.append([app["path"]])
    assert [d["directive"] for d in parsed] == ["location"] * len(expected)
    assert [d["args"] for d in parsed] == expected


@pytest.mark.parametrize("shape", GOOD)
def test_an_https_auth_endpoint_gets_its_name(rendered, shape):
    """proxy_ssl_server_name on for an https endpoint (Nginx sends no SNI by default); none for http."""
    auths = {d["args"][1]: d["block"] for d in _parse(rendered / shape / SNIPPET) if d["args"][0] == "="}
    for app in _apps(shape):
        if (app["auth"] or {}).get("type") == "forward":
            block = auths[f"/_streamlit_ops_auth/{app['name']}"]
            sni = [d["args"] for d in _named(block, "proxy_ssl_server_name")]
            assert sni == ([["on"]] if app["auth"]["url"].startswith("https://") else []), (app["name"], sni)


@pytest.mark.parametrize("shape", GOOD)
def test_location_proxies_websockets(rendered, shape):
    values = _app_vars(shape)
    for app, location in zip(_apps(shape), _app_locations(rendered, shape)):
        block = location["block"]
        timeout = _timeout(app)
        (target,) = _one(block, "proxy_pass")
        url = urlsplit(target)
        # No URI part: the path reaches Streamlit unchanged (baseUrlPath = path).
        assert (url.scheme, url.netloc, url.path) == ("http", f"streamlit_ops_deploy_{app['name']}", "")
        assert _one(block, "proxy_http_version") == ["1.1"]
        headers = {d["args"][0]: d["args"][1:] for d in _named(block, "proxy_set_header")}
        assert headers == {
            "Upgrade": ["$http_upgrade"],
            "Connection": ["$streamlit_ops_deploy_connection"],
            "Host": ["$http_host"],
            "X-Real-IP": ["$remote_addr"],
            "X-Forwarded-For": ["$proxy_add_x_forwarded_for"],
            # $scheme unless a trusted load balancer says otherwise (conf.d).
            "X-Forwarded-Proto": ["$streamlit_ops_deploy_proto"],
            # Identity headers: an empty value drops what the client sent...
            **{name: [""] for name in app["clear_headers"]},
            # ...or forward auth's answer replaces it.
            **{header["name"]: [header["var"]] for header in (app["auth"] or {}).get("headers", [])},
        }
        assert _one(block, "proxy_connect_timeout") == [f"{values['nginx_proxy_connect_timeout']}s"]
        assert _one(block, "proxy_read_timeout") == [timeout]
        assert _one(block, "proxy_send_timeout") == [timeout]
        assert _one(block, "proxy_next_upstream") == ["error", "timeout", "http_502", "http_503", "http_504"]
        assert _one(block, "proxy_next_upstream_tries") == [str(ROLE_VARS["__nginx_proxy_next_upstream_tries"])]
        assert _one(block, "access_log") == [ACCESS_LOG, "streamlit_ops_deploy"]
        assert not _named(block, "proxy_buffering")
        # Streamlit's limit plus 1 MB of multipart overhead.
        assert _one(block, "client_max_body_size") == [f"{app['max_upload_mb'] + 1}m"]
        assert _one(block, "absolute_redirect") == ["off"]
        assert _one(block, "server_tokens") == ["off"]


def test_timeouts_follow_the_ping_interval():
    # The arithmetic of vars/main.yml, spelled out: 3 pings, at least 60 s.
    assert [_timeout({"ping_interval": ping}) for ping in (1, 10, 20, 30, 45, 120)] == ["60s", "60s", "60s", "90s", "135s", "360s"]
    assert (ROLE_VARS["__nginx_proxy_timeout_pings"], ROLE_VARS["__nginx_proxy_timeout_floor"]) == (3, 60)


@pytest.mark.parametrize("shape", GOOD)
def test_sticky_cookie_and_strict_origins_in_the_location(rendered, shape):
    values = _app_vars(shape)
    for app, location in zip(_apps(shape), _app_locations(rendered, shape)):
        # Secure over TLS here, or behind trusted proxies when all the app's origins are https.
        tls = _tls(shape) or bool(values["nginx_proxy_trusted_proxies"] and app["origins"]
                                  and all(origin.startswith("https://") for origin in app["origins"]))
        block = location["block"]
        key = app["name"].replace("-", "_")
        userid = {d["directive"]: d["args"] for d in block if d["directive"].startswith("userid")}
        if app["sticky"] == "cookie":
            assert userid == {
                "userid": ["on"],
                "userid_name": [f"streamlit_ops_route_{key}"],
                "userid_path": [app["path"]],
                "userid_expires": ["365d"],
                "userid_flags": ["httponly", "samesite=lax", *(["secure"] if tls else [])],
            }
        else:
            assert userid == {}
        conditions = _named(block, "if")
        if app["origin_policy"] != "open":
            (condition,) = conditions
            assert condition["args"] == [f"$streamlit_ops_deploy_refuse_{key}"]
            assert [(d["directive"], d["args"]) for d in condition["block"]] == [("return", ["403"])]
        else:
            assert conditions == []
    # An add_header in a location would drop the server's (HSTS, or a user's).

    def directives(block):
        for d in block:
            yield d["directive"]
            yield from directives(d.get("block", []))

    assert "add_header" not in set(directives(_parse(rendered / shape / SNIPPET)))


@pytest.mark.parametrize("shape", GOOD)
def test_gzip_in_the_app_locations_only(rendered, shape):
    values = _app_vars(shape)
    for location in _app_locations(rendered, shape):
        gzip = {d["directive"]: d["args"] for d in location["block"] if d["directive"].startswith("gzip")}
        if not values["nginx_proxy_gzip"]:
            # ngx_brotli sends Vary only with gzip_vary on (checked in the brotli test).
            assert gzip in ({}, {"gzip_vary": ["on"]})
            continue
        assert set(gzip) == {"gzip", "gzip_types", "gzip_proxied", "gzip_vary", "gzip_min_length", "gzip_comp_level"}
        assert gzip["gzip"] == ["on"]
        # What Streamlit 1.67 sends for its bundle, CSS, manifest and host-config.
        assert {"application/javascript", "text/css", "application/json"} <= set(gzip["gzip_types"])
        assert gzip["gzip_proxied"] == ["any"]
        assert gzip["gzip_vary"] == ["on"]
        assert gzip["gzip_min_length"] == [str(ROLE_VARS["__nginx_proxy_compress_min_length"])]
        assert gzip["gzip_comp_level"] == [str(values["nginx_proxy_gzip_comp_level"])]
    # Not at http level, where Debian's nginx.conf already says "gzip on".
    assert not [d for d in _parse(rendered / shape / CONF) if d["directive"].startswith("gzip")]


def _brotli_loaded(shape: str) -> bool:
    """render.yml's host loads the brotli module unless the shape has an Nginx that is not Debian's."""
    return not _app_vars(shape).get("render_foreign_nginx", False)


@pytest.mark.parametrize("shape", GOOD)
def test_brotli_beside_gzip_only_where_nginx_loads_it(rendered, shape):
    values = _app_vars(shape)
    expected = values["nginx_proxy_brotli"] is not False and _brotli_loaded(shape)
    for location in _app_locations(rendered, shape):
        brotli = {d["directive"]: d["args"] for d in location["block"] if d["directive"].startswith("brotli")}
        if not expected:
            assert brotli == {}
            continue
        assert brotli == {
            "brotli": ["on"],
            # The same types and threshold as gzip, whichever of the two a client gets.
            "brotli_types": ROLE_VARS["__nginx_proxy_compress_types"],
            "brotli_min_length": [str(ROLE_VARS["__nginx_proxy_compress_min_length"])],
            "brotli_comp_level": [str(values["nginx_proxy_brotli_comp_level"])],
        }
        # ngx_brotli adds "Vary: Accept-Encoding" only when gzip_vary is on, gzip or not.
        assert _one(location["block"], "gzip_vary") == ["on"]
    # Control: the shapes cover both answers, so the check above can see either.
    assert {values["nginx_proxy_brotli"] is not False and _brotli_loaded(s) for s in GOOD
            for values in [_app_vars(s)]} == {True, False}


# --- site ------------------------------------------------------------------------------------------


def _listen_options(values: dict) -> list[str]:
    return (["default_server"] if values["nginx_proxy_default_server"] else []) + (
        ["reuseport"] if values["nginx_proxy_reuseport"] else []
    ) + (["deferred"] if values["nginx_proxy_deferred_accept"] else [])


@pytest.mark.parametrize("shape", [name for name in SERVER if not _tls(name)])
def test_site_listens_and_includes_the_snippet(rendered, shape):
    values = _app_vars(shape)
    parsed = _parse(rendered / shape / SITE)
    assert [d["directive"] for d in parsed] == ["server"]
    block = parsed[0]["block"]
    assert _one(block, "listen") == [str(values["nginx_proxy_listen_port"]), *_listen_options(values)]
    assert _one(block, "server_name") == values["nginx_proxy_server_name"].split()
    assert _one(block, "absolute_redirect") == ["off"]
    assert _one(block, "server_tokens") == ["off"]
    assert _one(block, "include") == [SNIPPET_DEST]
    assert not _named(block, "add_header")


@pytest.mark.parametrize("shape", [name for name in SERVER if _tls(name)])
def test_tls_site_redirects_http_and_serves_https(rendered, shape):
    values = _app_vars(shape)
    http, https = _parse(rendered / shape / SITE)
    options = _listen_options(values)
    port = values["nginx_proxy_https_port"]
    # Plain HTTP: nothing but an absolute redirect to the same name over https.
    assert _one(http["block"], "listen") == [str(values["nginx_proxy_listen_port"]), *options]
    # To nginx_proxy_redirect_url when set (the public URL behind a port mapping).
    target = (values["nginx_proxy_redirect_url"] or "https://$host" + ("" if port == 443 else f":{port}")).rstrip("/")
    assert _one(http["block"], "return") == ["301", target + "$request_uri"]
    assert _one(http["block"], "server_tokens") == ["off"]
    assert not _named(http["block"], "include")
    block = https["block"]
    # HTTP/2: a listen parameter before Nginx 1.25.1, "http2 on;" from then on.
    if _rendered_version(shape) >= (1, 25, 1):
        assert _one(block, "listen") == [str(port), "ssl", *options]
        assert _one(block, "http2") == ["on"]
    else:
        assert _one(block, "listen") == [str(port), "ssl", "http2", *options]
        assert not _named(block, "http2")
    if values["nginx_proxy_tls_remote_src"]:
        paths = [values["nginx_proxy_tls_certificate"], values["nginx_proxy_tls_certificate_key"]]
    else:
        paths = ["/etc/nginx/ssl/streamlit_ops_deploy.crt", "/etc/nginx/ssl/streamlit_ops_deploy.key"]
    assert [_one(block, "ssl_certificate"), _one(block, "ssl_certificate_key")] == [[path] for path in paths]
    # Mozilla "intermediate".
    assert _one(block, "ssl_protocols") == ["TLSv1.2", "TLSv1.3"]
    assert _one(block, "ssl_ciphers")[0].startswith("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:")
    assert _one(block, "ssl_prefer_server_ciphers") == ["off"]
    assert _one(block, "ssl_session_tickets") == ["off"]
    assert _one(block, "absolute_redirect") == ["off"]
    assert _one(block, "server_tokens") == ["off"]
    assert _one(block, "include") == [SNIPPET_DEST]
    hsts = values["nginx_proxy_hsts_max_age"]
    headers = [d["args"] for d in _named(block, "add_header")]
    assert headers == ([["Strict-Transport-Security", f"max-age={hsts}", "always"]] if hsts else [])


@pytest.mark.parametrize("shape", DROPIN)
def test_dropin_writes_no_server_and_no_nginx_conf(rendered, shape):
    assert sorted(str(p.relative_to(rendered / shape)) for p in (rendered / shape).rglob("*") if p.is_file()) == [CONF, SNIPPET]


@pytest.mark.parametrize("shape", GOOD)
@pytest.mark.parametrize("name", [MAIN, CONF, SNIPPET, SITE])
def test_managed_header_without_timestamp(rendered, shape, name):
    if (name == MAIN and shape not in MANAGED) or (name == SITE and shape not in SERVER):
        assert not (rendered / shape / name).exists()
        return
    text = (rendered / shape / name).read_text()
    head = text.splitlines()[:3]
    assert head[0].startswith("#") and any("Ansible managed" in line for line in head), head
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}", text)


# --- nginx.conf ------------------------------------------------------------------------------------


def _expected_workers(values: dict) -> tuple[int, int]:
    """worker_connections and worker_rlimit_nofile as defaults/main.yml explains them."""
    workers = RENDER_CPUS if values["nginx_proxy_worker_processes"] == "auto" else int(values["nginx_proxy_worker_processes"])
    spread = workers if values["nginx_proxy_reuseport"] else 1
    connections = values["nginx_proxy_worker_connections"]
    if connections is None:
        held = -(-2 * values["nginx_proxy_expected_sessions"] * 11 // (10 * spread))  # ceil(2 * sessions * 1.1 / spread)
        # Without deferred a 16th of worker_connections stays free.
        connections = held + (1024 if values["nginx_proxy_deferred_accept"] else max(1024, math.ceil(held / 15)))
    rlimit = values["nginx_proxy_worker_rlimit_nofile"]
    return connections, (connections + 1024 if rlimit is None else rlimit)


def _stock_main() -> Path:
    """This machine's nginx.conf, if it is Debian's unmodified file."""
    query = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Conffiles}", "nginx-common"],
        capture_output=True,
        text=True,
        check=False,
    )
    recorded = re.search(r"^\s*/etc/nginx/nginx\.conf\s+([0-9a-f]{32})\s*$", query.stdout, re.M)
    if not recorded or hashlib.md5(STOCK_MAIN.read_bytes()).hexdigest() != recorded.group(1):
        pytest.skip("needs Debian's unmodified /etc/nginx/nginx.conf (apt-get install nginx)")
    return STOCK_MAIN


def test_default_sizes_for_ten_thousand_sessions():
    # The figure, spelled out: 10,000 sessions x 2 connections over 2
    # workers, +10 % spread, +1024 connections, +1024 files.
    assert _expected_workers({**DEFAULTS, "nginx_proxy_worker_processes": "2"}) == (12024, 13048)
    assert DEFAULTS["nginx_proxy_expected_sessions"] == 10000


@pytest.mark.parametrize("shape", MANAGED)
def test_main_config_is_debians_with_tuned_workers(rendered, shape):
    """Every directive of Debian's nginx.conf, in order, with the same includes;
    only worker_processes, worker_connections and the added worker_rlimit_nofile differ."""
    values = _app_vars(shape)
    connections, rlimit = _expected_workers(values)
    stock = _parse(STOCK_BY_RELEASE[values.get("render_codename", "bookworm")])
    ours = _parse(rendered / shape / MAIN)
    assert _one(ours, "worker_processes") == [str(values["nginx_proxy_worker_processes"])]
    assert _one(ours, "worker_rlimit_nofile") == [str(rlimit)]
    (events,) = _named(ours, "events")
    assert _one(events["block"], "worker_connections") == [str(connections)]

    # No TLS below 1.2 at http level, whatever Debian's file lists (bookworm's
    # has TLSv1 TLSv1.1): the only other difference.
    tls = {"ssl_protocols": ["TLSv1.2", "TLSv1.3"], "ssl_prefer_server_ciphers": ["off"]}

    def strip(block: list[dict]) -> list:
        return [
            (d["directive"], [] if d["directive"] in ("worker_processes", "worker_connections", *tls) else d["args"],
             strip(d.get("block", [])))
            for d in block
            if d["directive"] != "worker_rlimit_nofile"
        ]

    assert strip(ours) == strip(stock)
    (http,) = _named(ours, "http")
    assert {name: _one(http["block"], name) for name in tls} == tls
    includes = [d["args"] for d in http["block"] if d["directive"] == "include"]
    assert includes == [["/etc/nginx/mime.types"], ["/etc/nginx/conf.d/*.conf"], ["/etc/nginx/sites-enabled/*"]]
    assert _one(ours, "include") == ["/etc/nginx/modules-enabled/*.conf"]


def test_stock_copies_are_debians():
    for release, path in STOCK_BY_RELEASE.items():
        assert hashlib.md5(path.read_bytes()).hexdigest() == STOCK_MD5[release], release
    assert list(MAIN_CONFIG_RELEASES) == list(STOCK_BY_RELEASE)


def test_releases_keep_their_own_layout(rendered):
    """Negative control for the comparison above: the two releases' files differ,
    and each render matches only its own."""
    bookworm, trixie = (_parse(rendered / shape / MAIN) for shape in ("one_app", "trixie_main_config"))
    assert bookworm != trixie
    (http,) = _named(trixie, "http")
    assert _one(http["block"], "ssl_protocols") == ["TLSv1.2", "TLSv1.3"]
    assert _one(trixie, "worker_cpu_affinity") == ["auto"]
    assert not _named(bookworm, "worker_cpu_affinity")


def test_main_config_carries_the_ownership_marker(rendered):
    text = (rendered / "one_app" / MAIN).read_text()
    assert ROLE_VARS["__nginx_proxy_main_config_marker"] in text.splitlines()[3]


# --- nginx -t --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certificate(make_self_signed) -> tuple[Path, Path]:
    """A self-signed certificate and key for apps.example.test (and 127.0.0.1)."""
    return make_self_signed("apps.example.test", ("127.0.0.1",))


def _local_nginx_version() -> tuple[int, ...]:
    result = subprocess.run([_nginx(), "-v"], capture_output=True, text=True, timeout=30, check=False)
    return _version(re.search(r"nginx/([0-9.]+)", result.stderr).group(1))


def _needs_local_nginx(shape: str) -> None:
    """Skip a shape rendered for a newer Nginx than this machine's (trixie's
    "http2 on;" is unknown to bookworm's 1.22); a trixie master checks it."""
    if _tls(shape) and _rendered_version(shape) > _local_nginx_version():
        pytest.skip(f"rendered for Nginx {'.'.join(map(str, _rendered_version(shape)))}, this machine has an older one")


def _with_certificate(text: str, certificate: tuple[Path, Path]) -> str:
    """Point ssl_certificate(_key) at the test pair, wherever the shape put them."""
    text = re.sub(r"(?m)^(\s*ssl_certificate) \S+;", rf"\1 {certificate[0]};", text)
    return re.sub(r"(?m)^(\s*ssl_certificate_key) \S+;", rf"\1 {certificate[1]};", text)


# A server of the user's, as in drop-in mode: it includes the snippet.
USER_SERVER = """server {
    listen 8082;
    server_name intranet.example.test;
    include SNIPPET;
}
"""


def _nginx_prefix(rendered: Path, shape: str, tmp_path: Path, certificate: tuple[Path, Path],
                  ports: dict | None = None, extra_http: str = "") -> list[str]:
    """The rendered files inside a throwaway http {} under tmp_path; returns
    the nginx argv for it, without -t.

    The rendered files are used as they are, except for host paths that a
    test must not touch: the snippet include is pointed at the rendered
    snippet, the access log goes to tmp (nginx -t opens log files), the TLS
    pair is the test's. In drop-in mode a stand-in for the user's server
    includes the snippet. ports maps placeholder ports (backends, listen,
    redirect) to the ports to use.
    """
    src = rendered / shape
    names = (CONF, SNIPPET, SITE) if shape in SERVER else (CONF, SNIPPET)
    for name in names:
        text = (src / name).read_text()
        if name == SITE:
            assert text.count(SNIPPET_DEST) == 1
            text = _with_certificate(text.replace(SNIPPET_DEST, str(tmp_path / SNIPPET)), certificate)
        if name == SNIPPET:
            assert text.count(ACCESS_LOG) == len(_app_vars(shape)["nginx_proxy_apps"])
            text = text.replace(ACCESS_LOG, str(tmp_path / "access.log"))
        for old, new in (ports or {}).items():
            text = text.replace(old, new)
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    site = tmp_path / SITE
    if shape not in SERVER:
        user = USER_SERVER.replace("SNIPPET", str(tmp_path / SNIPPET))
        site.parent.mkdir(parents=True, exist_ok=True)
        site.write_text(user)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # The role renders brotli only where Nginx loads the module, as here.
    brotli = "brotli on;" in (tmp_path / SNIPPET).read_text()
    (tmp_path / "nginx.conf").write_text(
        (f"load_module {BROTLI_SO};\n" if brotli else "")
        # root: the workers write temp files under tmp_path, which only root may.
        + "user root;\n"
        "worker_processes 1;\n"
        f"pid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'error.log'};\n"
        "events {}\n"
        "http {\n"
        f"{temp_paths}\n"
        f"    access_log {tmp_path / 'default.access.log'};\n"
        f"{extra_http}"
        f"    include {tmp_path / CONF};\n"
        f"    include {site};\n"
        "}\n"
    )
    return [_nginx(), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")]


def _nginx_t(rendered: Path, shape: str, tmp_path: Path, certificate: tuple[Path, Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_nginx_prefix(rendered, shape, tmp_path, certificate), "-t"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("shape", GOOD)
def test_nginx_accepts_good_shapes(rendered, shape, tmp_path, certificate):
    _needs_local_nginx(shape)
    result = _nginx_t(rendered, shape, tmp_path, certificate)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    # No deprecation warning either ("listen ... http2" on 1.25.1 and later).
    assert "[warn]" not in result.stderr, result.stderr


def test_control_brotli_without_the_module_fails_nginx_t(rendered, tmp_path, certificate):
    """Why the role renders brotli only where Nginx loads the module: without
    load_module the same files fail nginx -t."""
    argv = _nginx_prefix(rendered, "one_app", tmp_path, certificate)
    main = tmp_path / "nginx.conf"
    assert main.read_text().startswith(f"load_module {BROTLI_SO};\n")
    main.write_text(main.read_text().split("\n", 1)[1])
    result = _run([*argv, "-t"])
    assert result.returncode != 0
    assert 'unknown directive "brotli"' in result.stderr, result.stderr


@pytest.mark.parametrize("shape", BAD)
def test_nginx_rejects_duplicate_location(rendered, shape, tmp_path, certificate):
    result = _nginx_t(rendered, shape, tmp_path, certificate)
    assert result.returncode != 0
    assert 'duplicate location "/same/"' in result.stderr


OTHER_SITE = """server {
    listen 8081;
    server_name other.example.test;
    location / { return 204; }
}
"""


def _nginx_tree(rendered: Path, shape: str, tmp_path: Path, certificate: tuple[Path, Path], other_site: str = OTHER_SITE) -> list[str]:
    """A copy of Debian's /etc/nginx under tmp with the rendered files in place,
    the site link, and another site someone else enabled.

    Host paths are moved into tmp: /etc/nginx, /var/log/nginx and the pid file.
    Returns the nginx argv for that tree, without -t or -T.
    """
    etc = tmp_path / "etc" / "nginx"
    shutil.copytree("/etc/nginx", etc, symlinks=True)
    for name in (MAIN, CONF, SNIPPET, SITE):
        text = _with_certificate((rendered / shape / name).read_text(), certificate)
        text = text.replace("/etc/nginx/", f"{etc}/").replace("/var/log/nginx/", f"{tmp_path}/")
        (etc / name).write_text(text.replace("/run/nginx.pid", f"{tmp_path}/nginx.pid"))
    for link in (etc / "sites-enabled").iterdir():
        link.unlink()
    (etc / "sites-enabled" / "streamlit_ops_deploy").symlink_to(etc / SITE)
    (etc / "sites-enabled" / "other").write_text(other_site)
    # modules-enabled/*.conf load modules/*.so relative to the prefix.
    (tmp_path / "modules").symlink_to("/usr/share/nginx/modules")
    # Temp directories a test may write; a conf.d file, so nginx.conf stays as rendered.
    (etc / "conf.d" / "00-test-temp-paths.conf").write_text(
        "".join(f"{kind}_temp_path {tmp_path / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    )
    return [_nginx(), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(etc / MAIN)]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("shape", MANAGED)
def test_nginx_loads_the_tuned_main_config_with_every_site(rendered, shape, tmp_path, certificate):
    _stock_main()
    _needs_local_nginx(shape)
    argv = _nginx_tree(rendered, shape, tmp_path, certificate)
    result = _run([*argv, "-t"])
    assert result.returncode == 0, result.stderr
    dump = _run([*argv, "-T"]).stdout
    # Our files and the other site are all loaded through nginx.conf's includes.
    for name in (CONF, "sites-enabled/streamlit_ops_deploy", SNIPPET, "sites-enabled/other", "mime.types"):
        assert f"# configuration file {tmp_path}/etc/nginx/{name}:" in dump, name
    assert "server_name other.example.test;" in dump


@pytest.mark.parametrize("variable, option", [("nginx_proxy_reuseport", "reuseport"), ("nginx_proxy_deferred_accept", "deferred")])
@pytest.mark.parametrize("shape", MANAGED)
def test_nginx_refuses_a_second_listen_option_on_the_port(rendered, shape, variable, option, tmp_path, certificate):
    """Why nginx_proxy_reuseport and nginx_proxy_deferred_accept can be turned
    off: another server block that sets the option on the same port fails
    nginx -t (and the role rolls back). Control: the shapes with it off pass."""
    _stock_main()
    port = _app_vars(shape)["nginx_proxy_listen_port"]
    other = OTHER_SITE.replace("listen 8081;", f"listen {port} {option};")
    _needs_local_nginx(shape)
    result = _run([*_nginx_tree(rendered, shape, tmp_path, certificate, other), "-t"])
    if _app_vars(shape)[variable]:
        assert result.returncode != 0
        assert f"duplicate listen options for 0.0.0.0:{port}" in result.stderr
    else:
        assert result.returncode == 0, result.stderr


# --- a real Nginx on loopback --------------------------------------------------------------------
# The "live" shape, run by this machine's Nginx on free loopback ports
# against two small HTTP backends: stickiness from the first request, a dead
# child skipped, strict origins, redirects, HSTS and the upload limit, as a
# client sees them.

LIVE = "live"
ECHOED = ("X-Real-IP", "X-Forwarded-Proto", "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Team")


class _Backend:
    """A tiny HTTP/1.1 server that names itself in X-Backend and answers a
    WebSocket upgrade with a correct 101."""

    def __init__(self, name: str):
        import http.server
        import threading

        from ansible_collections.streamlit_ops.deploy.plugins.modules.websocket_probe import expected_accept

        connections = self.connections = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                connections.append(self.connection)

            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: bytes = b"", extra: dict | None = None):
                self.send_response(status)
                self.send_header("X-Backend", name)
                # The request headers that reached the backend, by name.
                self.send_header("X-Received", ",".join(sorted(key.lower() for key in self.headers.keys())))
                # The values of the headers the access tests look at.
                for key in ECHOED:
                    if key in self.headers:
                        self.send_header(f"X-Got-{key}", self.headers[key])
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.headers.get("Upgrade"):
                    self.send_response(101)
                    self.send_header("Upgrade", "websocket")
                    self.send_header("Connection", "Upgrade")
                    self.send_header("Sec-WebSocket-Accept", expected_accept(self.headers["Sec-WebSocket-Key"]))
                    self.send_header("X-Backend", name)
                    self.end_headers()
                    self.close_connection = True
                    return
                self._answer(200, f"{name} {self.path}".encode())

            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._answer(204)

        self.name = name
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        # A short poll: shutdown() waits for it, at every live test's teardown.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        """Die as a child does: no listener, and the open (pooled) connections reset."""
        self.server.shutdown()
        self.server.server_close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live(rendered, tmp_path, certificate):
    backends = [_Backend("b1"), _Backend("b2")]
    http_port, https_port = _free_port(), _free_port()
    ports = {"65001": str(backends[0].port), "65002": str(backends[1].port), "65080": str(http_port), "65443": str(https_port)}
    # The location logs both userid variables, to show the hash key is the same
    # value on the first request ($uid_set) and on later ones ($uid_got).
    argv = _nginx_prefix(rendered, LIVE, tmp_path, certificate, ports=ports,
                         extra_http="    log_format uidtest '$uri|$uid_got|$uid_set|$upstream_addr';\n")
    snippet = tmp_path / SNIPPET
    log = tmp_path / "access.log"
    snippet.write_text(snippet.read_text().replace(f"{log} streamlit_ops_deploy;", f"{log} uidtest;"))
    process = subprocess.Popen([*argv, "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
    try:
        for dummy in range(100):
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.1)
        yield types.SimpleNamespace(https_port=https_port, http_port=http_port, backends=backends, log=log, certificate=certificate)
    finally:
        process.terminate()
        process.wait(timeout=30)
        for backend in backends:
            backend.stop()


def _request(live, method: str, path: str, cookie: str | None = None, body: bytes | None = None,
             headers: dict | None = None, tls: bool = True):
    """(status, headers, body) for one request to the live Nginx, as apps.example.test."""
    import http.client

    if tls:
        context = ssl.create_default_context(cafile=str(live.certificate[0]))
        connection = http.client.HTTPSConnection("127.0.0.1", live.https_port, timeout=10, context=context)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", live.http_port, timeout=10)
    sent = {"Host": "apps.example.test", **(headers or {})}
    if cookie:
        sent["Cookie"] = cookie
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _route_cookie(headers: dict) -> str:
    return headers["set-cookie"].split(";", 1)[0]


def test_live_cookie_is_sticky_from_the_first_request(live):
    served = []
    for client in range(12):
        status, headers, dummy = _request(live, "GET", f"/live/?client={client}")
        assert status == 200
        first, cookie = headers["x-backend"], _route_cookie(headers)
        attributes = headers["set-cookie"].lower()
        assert cookie.startswith("streamlit_ops_route_live=")
        for flag in ("path=/live/", "httponly", "samesite=lax", "secure", "expires="):
            assert flag in attributes, attributes
        later = [_request(live, "GET", f"/live/static/{n}.js", cookie)[1]["x-backend"] for n in range(4)]
        # The upload goes where the session is, the whole point of stickiness.
        status, headers, dummy = _request(live, "PUT", "/live/_stcore/upload_file/s/f", cookie, body=b"x" * 1000)
        assert (status, set(later), headers["x-backend"]) == (204, {first}, first)
        served.append(first)
    # Both children serve someone: the pinning above is not one child for all.
    assert set(served) == {"b1", "b2"}, served
    # $uid_set on the first answer and $uid_got afterwards are the same string.
    lines = [line.split("|") for line in live.log.read_text().splitlines()]
    firsts = [line for line in lines if line[0] == "/live/"]
    assert len(firsts) == 12 and all(line[1] == "-" and line[2].startswith("streamlit_ops_route_live=") for line in firsts)
    got = {line[1] for line in lines if line[0].startswith("/live/static/")}
    assert got == {line[2] for line in firsts}


def test_live_round_robin_is_the_control(live):
    """sticky: none (the strict app) spreads one client's requests: what the
    cookie prevents for the live app."""
    seen = {_request(live, "GET", f"/strict/{n}")[1]["x-backend"] for n in range(6)}
    assert seen == {"b1", "b2"}
    assert "set-cookie" not in _request(live, "GET", "/strict/")[1]


def test_live_dead_child_is_skipped_fast(live):
    # A client pinned to each child. A new client's cookie lands on either
    # child as its hash falls; a child Nginx counted as failed once (a busy CI
    # machine) gets no new client for fail_timeout (10 s), so the clients go
    # on, more slowly after a dozen, for at most 15 s.
    pinned, deadline = {}, time.monotonic() + 15
    for client in range(200):
        headers = _request(live, "GET", f"/live/?client={client}")[1]
        pinned.setdefault(headers["x-backend"], _route_cookie(headers))
        if len(pinned) == 2 or time.monotonic() > deadline:
            break
        if client >= 12:
            time.sleep(0.1)
    assert set(pinned) == {"b1", "b2"}, pinned
    dead = live.backends[0]
    dead.stop()
    start = time.monotonic()
    status, headers, dummy = _request(live, "GET", "/live/", pinned[dead.name])
    elapsed = time.monotonic() - start
    # hash ... consistent moves the dead child's share to the live one.
    assert (status, headers["x-backend"]) == (200, "b2")
    assert elapsed < 1.5, elapsed
    # The other client stays where it was.
    assert _request(live, "GET", "/live/", pinned["b2"])[1]["x-backend"] == "b2"


def test_live_strict_origins_refuse_foreign_websockets(live):
    url = f"wss://apps.example.test:{live.https_port}/strict/_stcore/stream"

    def handshake(origin, **kwargs):
        return probe(url, connect_address="127.0.0.1", origin=origin, ca_path=str(live.certificate[0]), **kwargs)[:3:2]

    assert handshake("https://apps.example.test") == (101, True)
    assert handshake("https://evil.example.test") == (403, False)
    assert handshake(None) == (403, False)
    # Not an upgrade: Origin plays no part.
    status, dummy, dummy2 = _request(live, "GET", "/strict/", headers={"Origin": "https://evil.example.test"})
    assert status == 200
    # An app with origin_policy open takes any Origin, as Streamlit's own default does.
    assert probe(f"wss://apps.example.test:{live.https_port}/open/_stcore/stream", connect_address="127.0.0.1",
                 origin="https://evil.example.test", ca_path=str(live.certificate[0]))[0] == 101


def _upgrade(live, path: str, host: str, origin: str | None) -> int:
    """The status Nginx answers a WebSocket upgrade with, sent with this Host and Origin (None: no Origin)."""
    context = ssl.create_default_context(cafile=str(live.certificate[0]))
    with socket.create_connection(("127.0.0.1", live.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="apps.example.test") as conn:
            lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
            lines += [f"Origin: {origin}"] if origin is not None else []
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            return int(conn.recv(4096).split(b" ", 2)[1])


@pytest.mark.parametrize(("host", "origin", "status"), [
    # Same origin: Origin names the Host the upgrade was sent to; default
    # ports either side, case, IPv6 literals.
    ("apps.example.test:PORT", "https://apps.example.test:PORT", 101),
    ("apps.example.test", "https://apps.example.test", 101),
    ("apps.example.test:443", "https://apps.example.test", 101),
    ("apps.example.test", "https://apps.example.test:443", 101),
    ("Apps.Example.TEST", "https://apps.example.test", 101),
    ("[::1]:8443", "https://[::1]:8443", 101),
    ("apps.example.test:80", "http://apps.example.test", 101),
    # No Origin: not a browser, nothing to guard.
    ("apps.example.test", None, 101),
    # An outer proxy that rewrites Host: the public origin is allowed.
    ("internal.example.test", "https://public.example.test:8443", 101),
    ("internal.example.test", "https://PUBLIC.example.test:8443", 101),
    # Foreign: another site, another port, a prefix or suffix of the name,
    # the public name on another port, "null", garbage.
    ("apps.example.test", "https://evil.example.test", 403),
    ("apps.example.test:PORT", "https://apps.example.test", 403),
    ("apps.example.test", "https://apps.example.test.evil.test", 403),
    ("apps.example.test", "https://evil-apps.example.test", 403),
    ("internal.example.test", "https://public.example.test", 403),
    ("[::1]:8443", "https://[::1]:9443", 403),
    ("apps.example.test", "null", 403),
    ("apps.example.test", "apps.example.test", 403),
    ("apps.example.test|apps.example.test", "https://apps.example.test", 403),
])
def test_live_same_origin_guard(live, host, origin, status):
    port = str(live.https_port)
    host, origin = host.replace("PORT", port), origin and origin.replace("PORT", port)
    assert _upgrade(live, "/live/_stcore/stream", host, origin) == status
    # The control: the open app lets every one of them through.
    assert _upgrade(live, "/open/_stcore/stream", host, origin) == 101


def test_live_same_origin_passes_plain_requests(live):
    status, headers, dummy = _request(live, "GET", "/live/", headers={"Origin": "https://evil.example.test"})
    assert (status, headers["x-backend"] in ("b1", "b2")) == (200, True)


def test_live_identity_headers_are_cleared(live):
    sent = {"X-Forwarded-User": "mallory", "X-Auth-Email": "mallory@evil.test", "X-Other-Header": "kept"}
    received = _request(live, "GET", "/live/", headers=sent)[1]["x-received"].split(",")
    assert "x-forwarded-user" not in received and "x-auth-email" not in received
    # The control: a header the app does not trust passes, and on the open
    # app (no clear_headers) the identity headers pass too.
    assert "x-other-header" in received
    received = _request(live, "GET", "/open/", headers=sent)[1]["x-received"].split(",")
    assert {"x-forwarded-user", "x-auth-email", "x-other-header"} <= set(received)


def test_live_hides_the_nginx_version(live):
    for path, tls in (("/live/", True), ("/nowhere", True), ("/live/", False)):
        assert _request(live, "GET", path, tls=tls)[1]["server"] == "nginx", path


def test_live_probe_reports_a_self_signed_certificate(live):
    url = f"wss://apps.example.test:{live.https_port}/open/_stcore/stream"
    with pytest.raises(ssl.SSLCertVerificationError):
        probe(url, connect_address="127.0.0.1", origin="https://apps.example.test")
    assert probe(url, connect_address="127.0.0.1", origin="https://apps.example.test", allow_self_signed=True)[2:] == (True, True)
    # Trusted through a CA file it is not "self-signed" for the report.
    assert probe(url, connect_address="127.0.0.1", ca_path=str(live.certificate[0]), allow_self_signed=True)[2:] == (True, False)
    # Pinned, the name is still checked.
    wrong = f"wss://other.example.test:{live.https_port}/open/_stcore/stream"
    with pytest.raises(ssl.SSLCertVerificationError, match="other.example.test"):
        probe(wrong, connect_address="127.0.0.1", allow_self_signed=True)


def test_live_redirects_and_hsts(live):
    # Nginx's own redirect is relative: it survives port mapping and NAT.
    status, headers, dummy = _request(live, "GET", "/live")
    assert (status, headers["location"]) == (301, "/live/")
    # A change of scheme must be absolute: same name, the HTTPS port.
    status, headers, dummy = _request(live, "GET", "/live/x?y=1", tls=False)
    assert (status, headers["location"]) == (301, f"https://apps.example.test:{live.https_port}/live/x?y=1")
    assert "strict-transport-security" not in headers
    # HSTS on every HTTPS answer, from the server level: a 200 through the
    # locations, the 301 and the strict app's 403.
    assert _request(live, "GET", "/live/")[1]["strict-transport-security"] == "max-age=300"
    assert _request(live, "GET", "/live")[1]["strict-transport-security"] == "max-age=300"
    status, headers, dummy = _request(live, "GET", "/strict/_stcore/stream",
                                      headers={"Upgrade": "websocket", "Connection": "Upgrade", "Origin": "https://evil.example.test"})
    assert (status, headers["strict-transport-security"]) == (403, "max-age=300")


def test_live_upload_limit_is_the_apps_plus_one_mb(live):
    # max_upload_mb 1: Nginx takes up to 2 MiB, so Streamlit's own 1 MB limit
    # is what a user meets, never a 413 from Nginx below it.
    cookie = _route_cookie(_request(live, "GET", "/live/")[1])
    assert _request(live, "PUT", "/live/_stcore/upload_file/s/f", cookie, body=b"x" * (2 * 1024 * 1024))[0] == 204
    assert _request(live, "PUT", "/live/_stcore/upload_file/s/f", cookie, body=b"x" * (2 * 1024 * 1024 + 1))[0] == 413


# --- a real Nginx on loopback: access control ---------------------------------------------------
# The "live_access" shape: basic auth, forward auth against a small endpoint
# of the test's, and an allow list behind a trusted proxy, as a client sees
# them, page, WebSocket handshake and upload alike, each with its control.

LIVE_ACCESS = "live_access"
# The forward auth endpoint's one session, and the user it names.
SESSION_COOKIE = "session=alice-session"


class AuthEndpoint:
    """Answers like oauth2-proxy's /oauth2/auth: 202 with the user's headers for
    the session cookie, 401 otherwise; it records what each subrequest carried."""

    def __init__(self):
        import http.server
        import threading

        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                seen.append({key.lower(): value for key, value in self.headers.items()})
                known = SESSION_COOKIE in self.headers.get("Cookie", "")
                self.send_response(202 if known else 401)
                if known:
                    self.send_header("X-Auth-Request-User", "alice")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_access(rendered, tmp_path, certificate):
    backend, endpoint = _Backend("b1"), AuthEndpoint()
    port = _free_port()
    argv = _nginx_prefix(rendered, LIVE_ACCESS, tmp_path, certificate,
                         ports={"65001": str(backend.port), "65003": str(endpoint.port), "65180": str(port)})
    # Nginx reads the htpasswd file at each request, so nginx -t cannot tell a wrong path.
    htpasswd = ROLE_VARS["__nginx_proxy_auth_dir"] + "/basic.htpasswd"
    snippet = tmp_path / SNIPPET
    assert snippet.read_text().count(f"auth_basic_user_file {htpasswd};") == 1
    snippet.write_text(snippet.read_text().replace(htpasswd, str(tmp_path / "basic.htpasswd")))
    (tmp_path / "basic.htpasswd").write_text(nginx_proxy_htpasswd(_app_vars(LIVE_ACCESS)["nginx_proxy_apps"])["basic"])
    process = subprocess.Popen([*argv, "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
    try:
        for dummy in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.1)
        yield types.SimpleNamespace(port=port, endpoint=endpoint)
    finally:
        process.terminate()
        process.wait(timeout=30)
        backend.stop()
        endpoint.stop()


def _access(live, method: str, path: str, headers: dict | None = None, source: str = "127.0.0.1"):
    """(status, headers) of one plain HTTP request from the source address, as apps.example.test."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10, source_address=(source, 0))
    try:
        connection.request(method, path, body=b"x" * 10 if method == "PUT" else None, headers={"Host": "apps.example.test", **(headers or {})})
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def _three(live, path: str, headers: dict | None = None, source: str = "127.0.0.1") -> list[int]:
    """The status of the page, the WebSocket handshake and an upload of an app."""
    headers = headers or {}
    return [
        _access(live, "GET", path, headers, source)[0],
        _access(live, "GET", f"{path}_stcore/stream", {**headers, **UPGRADE}, source)[0],
        _access(live, "PUT", f"{path}_stcore/upload_file/s/f", headers, source)[0],
    ]


def _basic(user: str, password: str) -> dict:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_live_basic_auth_guards_page_websocket_and_uploads(live_access):
    assert _three(live_access, "/basic/") == [401, 401, 401]
    assert _access(live_access, "GET", "/basic/")[1]["www-authenticate"] == 'Basic realm="Restricted"'
    assert _three(live_access, "/basic/", _basic("alice", "wrong")) == [401, 401, 401]
    assert _three(live_access, "/basic/", _basic("mallory", "secret")) == [401, 401, 401]
    # The control: the right password opens all three.
    assert _three(live_access, "/basic/", _basic("alice", "secret")) == [200, 101, 204]


def test_live_forward_auth_redirects_to_sign_in_with_the_original_url(live_access):
    status, headers = _access(live_access, "GET", "/forward/page?x=1")
    assert (status, headers["location"]) == (302, "https://auth.example.test/oauth2/start?rd=http://apps.example.test/forward/page?x=1")
    assert _three(live_access, "/forward/") == [302, 302, 302]
    # The endpoint heard what it needs to decide, and no body.
    asked = live_access.endpoint.seen[0]
    assert (asked["x-original-uri"], asked["x-original-method"], asked["x-forwarded-host"], asked["x-forwarded-proto"]) == (
        "/forward/page?x=1", "GET", "apps.example.test", "http")
    assert _three(live_access, "/forward/", {"Cookie": SESSION_COOKIE}) == [200, 101, 204]


def test_live_forward_auth_identity_cannot_be_forged(live_access):
    forged = {"X-Auth-Request-User": "admin", "X-Auth-Request-Email": "admin@evil.test", "X-Team": "admins"}
    status, headers = _access(live_access, "GET", "/forward/", {**forged, "Cookie": SESSION_COOKIE})
    assert status == 200
    # The endpoint's user wins; what it did not answer is dropped, as is the cleared X-Team.
    assert headers["x-got-x-auth-request-user"] == "alice"
    assert "x-got-x-auth-request-email" not in headers and "x-got-x-team" not in headers
    # The control: without the session the forged user gets nowhere.
    assert _access(live_access, "GET", "/forward/", forged)[0] == 302


def test_live_allow_sees_the_client_behind_a_trusted_proxy(live_access):
    assert _three(live_access, "/allowed/", source="127.0.0.2") == [200, 101, 204]
    assert _three(live_access, "/allowed/") == [403, 403, 403]
    # Through the trusted proxy 127.0.0.3, its X-Forwarded-For names the client.
    assert _access(live_access, "GET", "/allowed/", {"X-Forwarded-For": "127.0.0.2"}, "127.0.0.3")[0] == 200
    assert _access(live_access, "GET", "/allowed/", {"X-Forwarded-For": "10.9.9.9"}, "127.0.0.3")[0] == 403
    # The control: anyone else's X-Forwarded-For counts for nothing.
    assert _access(live_access, "GET", "/allowed/", {"X-Forwarded-For": "127.0.0.2"})[0] == 403


def test_live_scheme_and_address_come_from_trusted_proxies_only(live_access):
    edge = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
    headers = _access(live_access, "GET", "/forward/", {**edge, "Cookie": SESSION_COOKIE}, "127.0.0.3")[1]
    assert (headers["x-got-x-forwarded-proto"], headers["x-got-x-real-ip"]) == ("https", "198.51.100.7")
    # The sign-in redirect names the scheme the browser used.
    assert _access(live_access, "GET", "/forward/", edge, "127.0.0.3")[1]["location"].endswith("?rd=https://apps.example.test/forward/")
    # The control: the same headers from a client that is not a trusted proxy.
    headers = _access(live_access, "GET", "/forward/", {**edge, "Cookie": SESSION_COOKIE})[1]
    assert (headers["x-got-x-forwarded-proto"], headers["x-got-x-real-ip"]) == ("http", "127.0.0.1")
    assert _access(live_access, "GET", "/forward/", {**edge, "X-Forwarded-Proto": "gopher"}, "127.0.0.3")[0] == 302
    assert _access(live_access, "GET", "/forward/", {**edge, "X-Forwarded-Proto": "gopher", "Cookie": SESSION_COOKIE},
                   "127.0.0.3")[1]["x-got-x-forwarded-proto"] == "http"


# --- the role's validate step -------------------------------------------------------------------------


@pytest.fixture
def fake_master(tmp_path):
    """Start a stand-in for the Nginx master with a chosen hard open-file limit.

    Returns a function hard_limit -> host vars that point the role's pid file
    at it. The role must read this process's limits, not its own (20,000 here).
    """
    started = []

    def start(hard: int) -> dict:
        process = subprocess.Popen(
            ["sleep", "300"],
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard)),
        )
        started.append(process)
        pid_file = tmp_path / f"nginx-{process.pid}.pid"
        pid_file.write_text(f"{process.pid}\n")
        return {"__nginx_proxy_pid_file": str(pid_file)}

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)


def _main_config(tmp_path: Path, text: str | None = None) -> dict:
    """Host vars pointing the role at a copy of Debian's nginx.conf, or at other text."""
    copy = tmp_path / "nginx.conf"
    copy.write_text(_stock_main().read_text() if text is None else text)
    return {"__nginx_proxy_main_config_file": str(copy)}


def _run_validate(tmp_path: Path, values: dict) -> subprocess.CompletedProcess:
    extra = tmp_path / "extra_vars.json"
    extra.write_text(json.dumps({**values, "ansible_python_interpreter": sys.executable}))
    return _ansible_playbook(
        "-i",
        "localhost,",
        str(FIXTURES / "validate.yml"),
        "--check",
        "--tags",
        "nginx_proxy_validate",
        "-e",
        f"@{extra}",
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )


def _run_validate_hosts(tmp_path: Path, common: dict, hosts: dict[str, dict]) -> dict[str, list[str] | None]:
    """One validate run, one local host per case (its nginx_proxy_* values as
    host vars; common as extra vars, which the role's own vars would outrank
    as host vars): {case: None when it passed, else the failure's problem lines}."""
    inventory = tmp_path / "inventory.json"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(json.dumps({"all": {"hosts": {name: {**values, **local} for name, values in hosts.items()}}}))
    extra = tmp_path / "extra_vars.json"
    extra.write_text(json.dumps(common))
    result = _ansible_playbook("-i", str(inventory), str(FIXTURES / "validate.yml"), "--check", "--tags", "nginx_proxy_validate",
                               "-e", f"@{extra}", env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    report = json.loads(result.stdout)
    outcome: dict[str, list[str] | None] = {}
    for task in report["plays"][0]["tasks"]:
        for name, host in task["hosts"].items():
            outcome.setdefault(name, None)
            if host.get("failed") and outcome[name] is None:
                outcome[name] = host["msg"].splitlines()[1:]
    assert set(outcome) == set(hosts), result.stdout[-3000:]
    return outcome


def _failure_message(result: subprocess.CompletedProcess) -> str:
    report = json.loads(result.stdout)
    tasks = report["plays"][0]["tasks"]
    failed = [t for t in tasks if t["hosts"].get("localhost", {}).get("failed")]
    assert failed, result.stdout
    return failed[0]["hosts"]["localhost"]["msg"]


def test_validate_rejects_cross_field_errors(tmp_path):
    result = _run_validate(
        tmp_path,
        {
            "nginx_proxy_apps": [
                {"name": "app", "path": "/app/", "backends": ["10.0.0.11:8501"]},
                {"name": "app", "path": "/app", "backends": ["10.0.0.11"]},
                {"name": "Other_App", "path": "/app/", "backends": []},
            ],
            "nginx_proxy_tls_certificate": "/nonexistent/cert.pem",
        },
    )
    assert result.returncode != 0
    problems = _failure_message(result).splitlines()[1:]
    fields = [line.split(" ", 2)[1].rstrip(":") for line in problems]
    assert fields == [
        "nginx_proxy_apps[1].name",
        "nginx_proxy_apps[1].path",
        "nginx_proxy_apps[1].backends[0]",
        "nginx_proxy_apps[2].name",
        "nginx_proxy_apps[2].path",
        "nginx_proxy_apps[2].backends",
        "nginx_proxy_tls_certificate_key",
        "nginx_proxy_tls_certificate",
    ]
    by_field = dict(zip(fields, problems))
    assert "already used by nginx_proxy_apps[0]" in by_field["nginx_proxy_apps[1].name"]
    assert "use e.g. '/app/'" in by_field["nginx_proxy_apps[1].path"]
    assert "already used by nginx_proxy_apps[0]" in by_field["nginx_proxy_apps[2].path"]
    assert "but nginx_proxy_tls_certificate is: set both" in by_field["nginx_proxy_tls_certificate_key"]
    assert "/nonexistent/cert.pem is not a file on the controller" in by_field["nginx_proxy_tls_certificate"]


def test_validate_accepts_every_good_shape(tmp_path, fake_master, certificate):
    hosts = {}
    for shape in GOOD:
        values = dict(SHAPES[shape]["vars"])
        if _tls(shape):
            # Files that exist, on the controller or (remote_src) the master; both are this machine.
            values.update(nginx_proxy_tls_certificate=str(certificate[0]), nginx_proxy_tls_certificate_key=str(certificate[1]))
        hosts[shape] = values
    outcome = _run_validate_hosts(tmp_path, {**fake_master(20000), **_main_config(tmp_path)}, hosts)
    assert outcome == dict.fromkeys(GOOD), outcome


def test_validate_checks_the_new_app_fields(tmp_path):
    """The rules live in plugin_utils/nginx_proxy_rules.py; the role's validate
    step reports them with the rest."""
    app = {**APP["nginx_proxy_apps"][0], "ping_interval": 0, "max_upload_mb": 40, "origins": ["https://apps.example.test/x"]}
    problems = _problems(_run_validate(tmp_path, {"nginx_proxy_apps": [app]}))
    assert [line.split(" ", 2)[1].rstrip(":") for line in problems] == ["nginx_proxy_apps[0].ping_interval", "nginx_proxy_apps[0].origins[0]"]


def test_validate_checks_the_tls_settings(tmp_path, fake_master, certificate):
    cert, key = map(str, certificate)
    tls = {**APP, "nginx_proxy_tls_certificate": cert, "nginx_proxy_tls_certificate_key": key}
    missing = str(tmp_path / "missing.key")
    outcome = _run_validate_hosts(tmp_path, {**fake_master(20000), **_main_config(tmp_path)}, {
        "tls": tls,
        "remote_src": {**tls, "nginx_proxy_tls_remote_src": True},
        "key_only": {**APP, "nginx_proxy_tls_certificate_key": key},
        "missing_key": {**tls, "nginx_proxy_tls_certificate_key": missing},
        "missing_remote_key": {**tls, "nginx_proxy_tls_certificate_key": missing, "nginx_proxy_tls_remote_src": True},
        "ports": {**tls, "nginx_proxy_https_port": 80, "nginx_proxy_hsts_max_age": -1},
        # One port is fine without TLS (the HTTPS port is then unused) and in drop-in mode.
        "one_port_plain": {**APP, "nginx_proxy_https_port": 80},
        "one_port_dropin": {**tls, "nginx_proxy_https_port": 80, "nginx_proxy_server": False},
    })
    assert sorted(case for case, problems in outcome.items() if problems is None) == ["one_port_dropin", "one_port_plain", "remote_src", "tls"]
    assert outcome["key_only"] == [
        "- nginx_proxy_tls_certificate is not set, but nginx_proxy_tls_certificate_key is: set both (PEM certificate "
        "and its key) for HTTPS, or neither for plain HTTP"
    ]
    (problem,) = outcome["missing_key"]
    assert problem.startswith(f"- nginx_proxy_tls_certificate_key {missing} is not a file on the controller")
    (problem,) = outcome["missing_remote_key"]
    # The master by its inventory name.
    assert problem.startswith(f"- nginx_proxy_tls_certificate_key {missing} is not a file on missing_remote_key (nginx_proxy_tls_remote_src is true)")
    problems = outcome["ports"]
    assert [line.split(" ", 2)[1] for line in problems] == ["nginx_proxy_https_port", "nginx_proxy_hsts_max_age"]
    assert "equals nginx_proxy_listen_port" in problems[0]


def _skipped(item: dict) -> bool:
    """A loop item the task's condition skipped: ansible-core 2.21's json
    callback gives it a skip_reason but no longer `skipped: true`."""
    return bool(item.get("skipped") or "skip_reason" in item)


def test_validate_warns_when_pings_are_too_rare_for_the_edge(tmp_path, fake_master):
    values = {**fake_master(20000), **_main_config(tmp_path), "nginx_proxy_edge_idle_timeout": 30, "nginx_proxy_apps": [
        {"name": "slow", "path": "/slow/", "backends": ["10.0.0.11:8501"]},
        {"name": "fast", "path": "/fast/", "backends": ["10.0.0.11:8502"], "ping_interval": 20},
    ]}
    result = _run_validate(tmp_path, values)
    assert result.returncode == 0, result.stdout
    (task,) = [t for t in json.loads(result.stdout)["plays"][0]["tasks"] if "validate | Warn" in t["task"]["name"]]
    warned = [item for item in task["hosts"]["localhost"]["results"] if not _skipped(item)]
    assert [item["item"]["name"] for item in warned] == ["slow"]
    assert warned[0]["msg"].startswith("WARNING: nginx_proxy_apps[0] (slow): ping_interval 30 s is not below nginx_proxy_edge_idle_timeout 30 s")
    assert "Lower the app's ping_interval below 30 (e.g. 15), or raise the idle timeout of the load balancer" in warned[0]["msg"]
    # The control: no edge stated, no warning; below 1 is an error.
    result = _run_validate(tmp_path, {**values, "nginx_proxy_edge_idle_timeout": None})
    (task,) = [t for t in json.loads(result.stdout)["plays"][0]["tasks"] if "validate | Warn" in t["task"]["name"]]
    assert all(_skipped(item) for item in task["hosts"]["localhost"]["results"])
    (problem,) = _problems(_run_validate(tmp_path, {**values, "nginx_proxy_edge_idle_timeout": 0}))
    assert problem.startswith("- nginx_proxy_edge_idle_timeout 0 must be the idle timeout in seconds")


def _problems(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode != 0, result.stdout
    return _failure_message(result).splitlines()[1:]


APP = {"nginx_proxy_apps": [{"name": "app", "path": "/app/", "backends": ["10.0.0.11:8501"]}]}


def test_validate_rejects_an_rlimit_above_the_masters_hard_limit(tmp_path, fake_master):
    host = {**fake_master(5000), **_main_config(tmp_path)}
    pid = Path(host["__nginx_proxy_pid_file"]).read_text().strip()
    values = {
        **APP,
        **host,
        "nginx_proxy_expected_sessions": 100,
        "nginx_proxy_worker_processes": 2,
        "nginx_proxy_worker_connections": 2000,
        "nginx_proxy_worker_rlimit_nofile": 6000,
    }
    (problem,) = _problems(_run_validate(tmp_path, values))
    assert problem.startswith("- nginx_proxy_worker_rlimit_nofile 6000 is above the hard open-file limit 5000 of")
    assert f"the Nginx master (/proc/{pid}/limits)" in problem
    assert "setrlimit(RLIMIT_NOFILE, 6000) failed" in problem and "at most 5000" in problem
    # At the limit it is accepted.
    assert _run_validate(tmp_path, {**values, "nginx_proxy_worker_rlimit_nofile": 5000}).returncode == 0


def test_validate_rejects_computed_sizes_above_the_hard_limit(tmp_path, fake_master):
    values = {**APP, **_main_config(tmp_path), "nginx_proxy_worker_processes": 2}
    (problem,) = _problems(_run_validate(tmp_path, {**values, **fake_master(5000)}))
    # 10,000 sessions on 2 workers need 13,048 files each. The fixes: at most
    # (5000 - 2048) * 2 / 2.2 = 2683 sessions, or ceil(22,000 / 2952) = 8 workers.
    assert problem.startswith("- nginx_proxy_expected_sessions 10000 needs worker_rlimit_nofile 13048 per worker")
    assert "above the hard open-file limit 5000" in problem
    assert "at most 2683" in problem and "nginx_proxy_worker_processes to 8 or more" in problem
    # The same input fits the 20,000 files these machines allow.
    assert _run_validate(tmp_path, {**values, **fake_master(20000)}).returncode == 0
    # Without reuseport one worker must hold all 10,000 sessions: 24,048 files.
    (problem,) = _problems(_run_validate(tmp_path, {**values, **fake_master(20000), "nginx_proxy_reuseport": False}))
    assert "needs worker_rlimit_nofile 24048 per worker" in problem and "set nginx_proxy_reuseport to true" in problem
    # Not written, not checked.
    unmanaged = {**values, **fake_master(5000), "nginx_proxy_manage_main_config": False}
    assert _run_validate(tmp_path, unmanaged).returncode == 0


def test_validate_rejects_worker_settings_that_cannot_hold_the_sessions(tmp_path, fake_master):
    host = {**fake_master(20000), **_main_config(tmp_path)}
    values = {
        **APP,
        **host,
        "nginx_proxy_worker_processes": 2,
        "nginx_proxy_worker_connections": 11023,
        "nginx_proxy_worker_rlimit_nofile": 11000,
    }
    problems = _problems(_run_validate(tmp_path, values))
    fields = [line.split(" ", 2)[1].rstrip(":") for line in problems]
    assert fields == ["nginx_proxy_worker_connections", "nginx_proxy_worker_rlimit_nofile"]
    # 2 * 10,000 / 2 + 1024 = 11,024.
    assert "each worker needs at least 2 * 10000 / 2 + 1024 = 11024" in problems[0]
    assert "below worker_connections 11023" in problems[1]
    fixed = {**values, "nginx_proxy_worker_connections": 11024, "nginx_proxy_worker_rlimit_nofile": 11024}
    assert _run_validate(tmp_path, fixed).returncode == 0
    (problem,) = _problems(_run_validate(tmp_path, {**fixed, "nginx_proxy_worker_processes": "two"}))
    assert problem.startswith("- nginx_proxy_worker_processes 'two' must be 'auto' or a number")


def test_without_deferred_a_sixteenth_of_the_connections_stays_free(tmp_path, fake_master):
    """Nginx closes connections waiting for their request once a worker has
    less than worker_connections / 16 free: without deferred the sizing keeps
    that 16th free; with deferred (the control) the plain +1024 stands."""
    for sessions in (1, 5000, 7680, 7681, 10000, 20000, 100000):
        for deferred in (True, False):
            values = {**DEFAULTS, "nginx_proxy_worker_processes": "2", "nginx_proxy_expected_sessions": sessions,
                      "nginx_proxy_deferred_accept": deferred}
            size = nginx_proxy_sizing(values, {"cpus": 2})
            connections = size["worker_connections"]
            assert (connections, size["worker_rlimit_nofile"]) == _expected_workers(values)
            held = -(-2 * sessions * 11 // 20)
            assert connections - held >= (1024 if deferred else max(1024, math.ceil(connections / 16))), (sessions, deferred)
    # 20,000 sessions on 2 workers: 22,000 session connections per worker.
    wide = {**DEFAULTS, "nginx_proxy_worker_processes": "2", "nginx_proxy_expected_sessions": 20000}
    assert _expected_workers(wide) == (23024, 24048)
    assert _expected_workers({**wide, "nginx_proxy_deferred_accept": False}) == (23467, 24491)

    # What validate asks of worker_connections set by hand (17,000 sessions on 2 workers, within this
    # machine's 20,000 files): 2 * 17,000 / 2 + 1024 with deferred, + 17,000 / 15 without.
    values = {**APP, **fake_master(20000), **_main_config(tmp_path), "nginx_proxy_worker_processes": 2,
              "nginx_proxy_expected_sessions": 17000, "nginx_proxy_worker_connections": 18024}
    assert _run_validate(tmp_path, values).returncode == 0
    (problem,) = _problems(_run_validate(tmp_path, {**values, "nginx_proxy_deferred_accept": False}))
    assert "each worker needs at least 2 * 17000 / 2 + 1134 = 18134" in problem
    assert "nginx_proxy_deferred_accept false" in problem
    assert _run_validate(tmp_path, {**values, "nginx_proxy_deferred_accept": False, "nginx_proxy_worker_connections": 18134}).returncode == 0


def test_validate_leaves_someone_elses_nginx_conf_alone(tmp_path, fake_master):
    host = fake_master(20000)
    edited = _stock_main().read_text().replace("worker_connections 768;", "worker_connections 4096;")
    values = {**APP, **host, **_main_config(tmp_path, edited)}
    (problem,) = _problems(_run_validate(tmp_path, values))
    assert problem.startswith("- nginx_proxy_manage_main_config is true, but ")
    assert "Set nginx_proxy_manage_main_config to false" in problem
    assert "worker_rlimit_nofile" in problem and "worker_connections" in problem
    assert _run_validate(tmp_path, {**values, "nginx_proxy_manage_main_config": False}).returncode == 0
    # A file this role wrote carries its marker and may be rewritten.
    ours = f"# {ROLE_VARS['__nginx_proxy_main_config_marker']}\n{edited}"
    assert _run_validate(tmp_path, {**values, **_main_config(tmp_path, ours)}).returncode == 0


def test_validate_refuses_to_manage_nginx_conf_of_an_unknown_release(tmp_path, fake_master):
    host = fake_master(20000)
    os_release = tmp_path / "os-release"
    values = {**APP, **host, **_main_config(tmp_path), "__nginx_proxy_os_release_file": str(os_release)}
    os_release.write_text('PRETTY_NAME="Debian GNU/Linux 14 (forky)"\nVERSION_CODENAME=forky\n')
    (problem,) = _problems(_run_validate(tmp_path, values))
    assert problem.startswith("- nginx_proxy_manage_main_config is true, but the role has nginx.conf templates only for Debian")
    assert "'forky'" in problem and "Set nginx_proxy_manage_main_config to false" in problem
    # Positive control: the same host on trixie, and forky left unmanaged.
    os_release.write_text('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_CODENAME=trixie\n')
    assert _run_validate(tmp_path, values).returncode == 0
    os_release.write_text("VERSION_CODENAME=forky\n")
    assert _run_validate(tmp_path, {**values, "nginx_proxy_manage_main_config": False}).returncode == 0


# --- interface ----------------------------------------------------------------------------------------


# Names and defaults of the top-level options: tests/unit/test_argument_specs.py.
def test_app_options_and_internal_names():
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    apps = specs["nginx_proxy_apps"]
    assert (apps["type"], apps["elements"], apps["required"]) == ("list", "dict", True)
    assert {name: (opt["type"], opt.get("required", False), opt.get("default")) for name, opt in apps["options"].items()} == {
        "name": ("str", True, None),
        "path": ("str", True, None),
        "backends": ("list", True, None),
        "max_upload_mb": ("int", False, 200),
        "ping_interval": ("int", False, 30),
        "sticky": ("str", False, "cookie"),
        "origins": ("list", False, []),
        "origin_policy": ("str", False, None),
        "clear_headers": ("list", False, []),
        "auth": ("dict", False, None),
        "allow": ("list", False, None),
    }
    assert apps["options"]["sticky"]["choices"] == ["cookie", "ip_hash", "none"]
    assert all(name.startswith("__nginx_proxy_") for name in ROLE_VARS)


def test_main_reads_the_host_then_validates_before_anything_else():
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())

    def step(task: dict) -> tuple[str, list[str]]:
        include = task.get("ansible.builtin.include_tasks")
        if include is None:
            return task["ansible.builtin.import_tasks"], task["tags"]
        # An include's tasks carry its tags only through apply.
        assert include["apply"]["tags"] == task["tags"], task
        return include["file"], task["tags"]

    # The read and the checks are skipped only where the site playbook did both already.
    assert [t.get("when") for t in tasks[:2]] == ["not (__nginx_proxy_read_and_checked | default(false))"] * 2
    assert not any("when" in t for t in tasks[2:])
    steps = [step(t) for t in tasks]
    assert steps == [
        ("facts.yml", ["nginx_proxy_validate", "nginx_proxy_install", "nginx_proxy_configure", "nginx_proxy_service"]),
        ("validate.yml", ["nginx_proxy_validate"]),
        ("install.yml", ["nginx_proxy_install"]),
        ("configure.yml", ["nginx_proxy_configure"]),
        ("service.yml", ["nginx_proxy_service"]),
    ]

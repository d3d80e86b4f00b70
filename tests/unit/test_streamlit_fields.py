"""The per-app production fields: each bad value gets one message naming the field and the fix."""

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.filter import apps as f

CHILDREN = ["child1", "child2"]
SITE = {"server_name": "apps.example.com", "http_port": 80, "https_port": 443, "tls": True, "origin_policy": "open"}


def good(**over):
    app = {"name": "demo", "image": "demo:1.0", "port": 8501}
    app.update(over)
    return app


@pytest.fixture
def secrets(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('token = "x"\n')
    return str(path)


def test_every_field_accepts_a_good_value(secrets):
    app = good(
        max_upload_mb=40, ping_interval=45, sticky="ip_hash", origin_policy="strict",
        options={"theme.base": "dark", "server.runOnSave": True, "server.folderWatchBlacklist": ["/tmp", "/var"],
                 "runner.cacheBackgroundRefreshTTLMultiplier": 1.5, "server.disconnectedSessionTTL": 300},
        secrets_file=secrets, cookie_secret="0123456789abcdef0123", memory="1g", cpus=1.5, log_max_size="20m",
        log_max_files=5, pull="always", registry={"url": "registry.example.com", "username": "u", "password": "p"},
        volumes=["/srv/data:/data:ro", "appdata:/cache"], user="1000:1000",
    )
    assert f.apps_errors([app], CHILDREN, site=SITE) == []


@pytest.mark.parametrize(
    ("over", "start", "fix"),
    [
        ({"max_upload_mb": 0}, "streamlit_apps[0].max_upload_mb: 0", "set e.g. 200"),
        ({"max_upload_mb": True}, "streamlit_apps[0].max_upload_mb: True", "set e.g. 200"),
        ({"ping_interval": "30"}, "streamlit_apps[0].ping_interval: '30'", "set e.g. 30"),
        ({"log_max_files": 0}, "streamlit_apps[0].log_max_files: 0", "set e.g. 3"),
        ({"sticky": "route"}, "streamlit_apps[0].sticky: 'route'", "cookie, ip_hash, none"),
        ({"origin_policy": "closed"}, "streamlit_apps[0].origin_policy: 'closed'", "open, strict"),
        ({"pull": "never"}, "streamlit_apps[0].pull: 'never'", "missing, always"),
        ({"options": ["theme.base"]}, "streamlit_apps[0].options: must be a dict", "'theme.base'"),
        ({"options": {"theme.bsae": "dark"}}, "streamlit_apps[0].options: 'theme.bsae' is not a Streamlit", "did you mean 'theme.base'?"),
        ({"options": {"server.maxUploadSize": 5}}, "streamlit_apps[0].options: 'server.maxUploadSize' is set by the collection", "use max_upload_mb"),
        ({"options": {"server.websocketPingInterval": 5}}, "streamlit_apps[0].options: 'server.websocketPingInterval'", "use ping_interval"),
        ({"options": {"server.cookieSecret": "x"}}, "streamlit_apps[0].options: 'server.cookieSecret'", "use cookie_secret"),
        ({"options": {"server.enableCORS": True}}, "streamlit_apps[0].options: 'server.enableCORS'", "use origin_policy"),
        ({"options": {"server.corsAllowedOrigins": ["https://a"]}}, "streamlit_apps[0].options: 'server.corsAllowedOrigins'", "use origin_policy"),
        ({"options": {"server.allowedHosts": ["a"]}}, "streamlit_apps[0].options: 'server.allowedHosts'", "use origin_policy"),
        ({"options": {"browser.serverAddress": "a"}}, "streamlit_apps[0].options: 'browser.serverAddress'", "use origin_policy"),
        ({"options": {"server.baseUrlPath": "a"}}, "streamlit_apps[0].options: 'server.baseUrlPath'", "use path"),
        ({"options": {"server.port": 1}}, "streamlit_apps[0].options: 'server.port'", "use port"),
        ({"options": {"server.address": "::"}}, "streamlit_apps[0].options: 'server.address'", "use port"),
        ({"options": {"server.headless": False}}, "streamlit_apps[0].options: 'server.headless'", "remove it"),
        ({"options": {"server.enableXsrfProtection": False}}, "streamlit_apps[0].options: 'server.enableXsrfProtection'", "XSRF protection stays on"),
        ({"options": {"secrets.files": ["/x.toml"]}}, "streamlit_apps[0].options: 'secrets.files'", "use secrets_file"),
        ({"options": {"server.sslCertFile": "/c"}}, "streamlit_apps[0].options: 'server.sslCertFile'", "streamlit_tls_certificate"),
        ({"options": {"server.runOnSave": "yes"}}, "streamlit_apps[0].options: server.runOnSave takes true or false", "got 'yes'"),
        ({"options": {"server.maxMessageSize": 1.5}}, "streamlit_apps[0].options: server.maxMessageSize takes an integer", "got 1.5"),
        ({"options": {"theme.base": ["dark"]}}, "streamlit_apps[0].options: theme.base takes a single str", "config.toml"),
        ({"options": {"server.folderWatchBlacklist": ["/a b"]}}, "streamlit_apps[0].options: server.folderWatchBlacklist", "without spaces"),
        ({"secrets_file": "/nonexistent/secrets.toml"}, "streamlit_apps[0].secrets_file: '/nonexistent/secrets.toml'", "give the path"),
        ({"cookie_secret": "short"}, "streamlit_apps[0].cookie_secret: must be a string of at least 16", "openssl rand -hex 32"),
        ({"memory": "1x"}, "streamlit_apps[0].memory: '1x'", "'512m' or '1g'"),
        ({"memory": "1m"}, "streamlit_apps[0].memory: '1m' is not a size of at least 6m", "'512m'"),
        ({"cpus": 0}, "streamlit_apps[0].cpus: 0", "e.g. 1.5"),
        ({"cpus": "2"}, "streamlit_apps[0].cpus: '2'", "e.g. 1.5"),
        ({"log_max_size": "10"}, "streamlit_apps[0].log_max_size: '10'", "'10m'"),
        ({"registry": "u:p"}, "streamlit_apps[0].registry: must be a dict", "username, password"),
        ({"registry": {"username": "u"}}, "streamlit_apps[0].registry.password: is missing", "vault"),
        ({"registry": {"username": "u", "password": "p", "token": "t"}}, "streamlit_apps[0].registry: unknown keys token", "url, username"),
        ({"registry": {"url": "a b", "username": "u", "password": "p"}}, "streamlit_apps[0].registry.url: 'a b'", "Docker Hub"),
        ({"volumes": "/a:/b"}, "streamlit_apps[0].volumes: must be a list", "SRC:DEST"),
        ({"volumes": ["/a"]}, "streamlit_apps[0].volumes[0]: '/a' is not 'SRC:DEST[:ro|rw]'", "'/srv/data:/data:ro'"),
        ({"volumes": ["/a:b"]}, "streamlit_apps[0].volumes[0]: '/a:b'", "absolute DEST"),
        ({"volumes": ["/a:/b:rx"]}, "streamlit_apps[0].volumes[0]: '/a:/b:rx' ends in 'rx'", "'ro' or 'rw'"),
        ({"volumes": ["/a:/run/streamlit_ops"]}, "streamlit_apps[0].volumes[0]: '/a:/run/streamlit_ops' mounts over", "choose another DEST"),
        ({"user": "a b"}, "streamlit_apps[0].user: 'a b'", "'1000:1000'"),
        ({"env": {"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1"}}, "streamlit_apps[0].env: STREAMLIT_SERVER_MAX_UPLOAD_SIZE is set by the collection", "max_upload_mb"),
        ({"env": {"FORWARDED_ALLOW_IPS": "*"}}, "streamlit_apps[0].env: FORWARDED_ALLOW_IPS is set by the collection", "remove it"),
    ],
)
def test_each_field_rule_names_the_field_and_the_fix(over, start, fix):
    errors = f.apps_errors([good(**over)], CHILDREN, site=SITE)
    assert len(errors) == 1, errors
    assert errors[0].startswith(start), errors
    assert fix in errors[0], errors


def test_strict_app_needs_a_derivable_origin():
    site = dict(SITE, server_name="_")
    (error,) = f.apps_errors([good(origin_policy="strict")], CHILDREN, site=site)
    assert error.startswith("streamlit_apps[0].origin_policy: strict needs a public origin")
    assert "streamlit_public_url" in error and "streamlit_server_name" in error
    assert f.apps_errors([good(origin_policy="strict")], CHILDREN, site=dict(site, public_url="https://a.example")) == []
    # A strict global without origins is site_errors' message, not one per app.
    assert f.apps_errors([good()], CHILDREN, site=dict(site, origin_policy="strict")) == []


def test_role_view_checks_public_origins_of_strict_items():
    at = "streamlit_app_containers[0]"
    errors = f.apps_errors([good(origin_policy="strict")], varname="streamlit_app_containers")
    assert errors and errors[0].startswith(f"{at}.origin_policy: strict needs a public origin") and "public_origins" in errors[0]
    errors = f.apps_errors([good(origin_policy="strict", public_origins=["https://a.example/x"])], varname="streamlit_app_containers")
    assert errors and errors[0].startswith(f"{at}.public_origins: 'https://a.example/x' is not an origin")
    assert f.apps_errors([good(origin_policy="strict", public_origins=["https://a.example"])], varname="streamlit_app_containers") == []


@pytest.mark.parametrize(
    ("site", "start"),
    [
        ({"origin_policy": "closed"}, "streamlit_origin_policy: 'closed' is not one of open, strict"),
        ({"origin_policy": "strict", "server_name": "_"}, "streamlit_origin_policy: strict needs a public origin; set streamlit_public_url"),
        ({"origin_policy": "strict", "server_name": "*.example.com"}, "streamlit_origin_policy: strict needs a public origin"),
        ({"public_url": "apps.example.com"}, "streamlit_public_url: 'apps.example.com' is not 'http(s)://host[:port]'"),
        ({"public_url": "https://apps.example.com/app/"}, "streamlit_public_url: 'https://apps.example.com/app/'"),
        ({"public_url": "https://apps.example.com:99999"}, "streamlit_public_url: 'https://apps.example.com:99999'"),
        ({"http_port": 0}, "streamlit_http_port: 0 is not a port"),
        ({"https_port": "x"}, "streamlit_https_port: 'x' is not a port"),
        ({"tls": True, "http_port": 8080, "https_port": 8080}, "streamlit_https_port: equals streamlit_http_port"),
        ({"tls_certificate": "/c.pem"}, "streamlit_tls_certificate_key: is not set while its pair is"),
        ({"tls_certificate_key": "/k.pem"}, "streamlit_tls_certificate: is not set while its pair is"),
        ({"proxy_addresses": []}, "streamlit_proxy_addresses: must be a non-empty list"),
        ({"proxy_addresses": ["master.example.com"]}, "streamlit_proxy_addresses: 'master.example.com' is not an IP"),
        ({"cookie_secrets": ["x"]}, "__streamlit_site.cookie_secrets: must be a dict"),
    ],
)
def test_site_rules(site, start):
    (error,) = f.site_errors(site)
    assert error.startswith(start), error


def test_good_sites_pass():
    assert f.site_errors({}) == []
    assert f.site_errors(dict(SITE, origin_policy="strict", proxy_addresses=["10.0.0.10", "fd00::1", "10.1.0.0/16"])) == []
    assert f.site_errors({"origin_policy": "strict", "server_name": "_", "public_url": "https://apps.example.com:8443/"}) == []
    assert f.site_errors({"tls_certificate": "/c.pem", "tls_certificate_key": "/k.pem", "tls": True}) == []
    assert f.site_errors("x")[0].startswith("__streamlit_site: must be a dict")

"""The streamlit_app role's rules: each bad value gets one message naming the field and the fix,
the same rule whether the role checks its own input or the site playbook checks the user's apps."""

import io
import json
import tarfile

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import streamlit_app_errors
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import site

CHILDREN = ["child1", "child2"]
HOSTS = {"child1": {"bind_address": "10.0.0.11"}, "child2": {"bind_address": "10.0.0.12"}}


def good(**over):
    app = {"name": "demo", "path": "/demo/", "image": "demo:1.0", "port": 8501}
    app.update(over)
    return app


def role(*apps, address="10.0.0.11", forwarded=()):
    return streamlit_app_errors(list(apps), address, list(forwarded))


def site_errors(*apps, **settings):
    return site.errors({"streamlit_ops_apps": list(apps), **settings}, CHILDREN, HOSTS, ["10.0.0.10"])


def docker_archive(path, tag, config=b'{"architecture":"amd64"}'):
    with tarfile.open(path, "w") as tar:
        for name, data in (
            ("cfg.json", config),
            ("manifest.json", json.dumps([{"Config": "cfg.json", "RepoTags": [tag], "Layers": []}]).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.fixture
def secrets(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('token = "x"\n')
    return str(path)


def test_every_field_accepts_a_good_value(secrets):
    app = good(
        max_upload_mb=40, ping_interval=45, origins=["https://apps.example.com"],
        options={"theme.base": "dark", "server.runOnSave": True, "server.folderWatchBlacklist": ["/tmp", "/var"],
                 "runner.cacheBackgroundRefreshTTLMultiplier": 1.5, "server.disconnectedSessionTTL": 300},
        secrets_file=secrets, cookie_secret="0123456789abcdef0123", memory="1g", cpus=1.5, log_max_size="20m",
        log_max_files=5, pull="always", registry={"url": "registry.example.com", "username": "u", "password": "p"},
        volumes=["/srv/data:/data:ro", "appdata:/cache"], user="1000:1000", env={"A": 1, "B": True},
    )
    assert role(app, forwarded=["10.0.0.10", "10.1.0.0/16"]) == []
    site_app = {k: v for k, v in app.items() if k != "origins"}
    assert site_errors(dict(site_app, sticky="ip_hash", origin_policy="strict"), nginx_proxy_server_name="apps.example.com") == []


FIELD_RULES = [
    ({"max_upload_mb": 0}, "{at}.max_upload_mb: 0 is not a whole number of at least 1", ""),
    ({"max_upload_mb": "x"}, "{at}.max_upload_mb: 'x' is not a whole number", "maxUploadSize"),
    ({"log_max_files": 0}, "{at}.log_max_files: 0 is not a whole number of at least 1", ""),
    ({"pull": "never"}, "{at}.pull: 'never' is not one of missing, always", "pick one"),
    ({"options": ["theme.base"]}, "{at}.options: ['theme.base'] is not a dict", ""),
    ({"options": {"theme.bsae": "dark"}}, "{at}.options: 'theme.bsae' is not a Streamlit", "did you mean 'theme.base'?"),
    ({"options": {"server.maxUploadSize": 5}}, "{at}.options: 'server.maxUploadSize' is set by the collection", "use max_upload_mb"),
    ({"options": {"server.websocketPingInterval": 5}}, "{at}.options: 'server.websocketPingInterval'", "use ping_interval"),
    ({"options": {"server.cookieSecret": "x"}}, "{at}.options: 'server.cookieSecret'", "use cookie_secret"),
    ({"options": {"server.enableCORS": True}}, "{at}.options: 'server.enableCORS'", "use origins"),
    ({"options": {"server.corsAllowedOrigins": ["https://a"]}}, "{at}.options: 'server.corsAllowedOrigins'", "use origins"),
    ({"options": {"server.allowedHosts": ["a"]}}, "{at}.options: 'server.allowedHosts'", "use origins"),
    ({"options": {"browser.serverAddress": "a"}}, "{at}.options: 'browser.serverAddress'", "use origins"),
    ({"options": {"server.baseUrlPath": "a"}}, "{at}.options: 'server.baseUrlPath'", "use path"),
    ({"options": {"server.port": 1}}, "{at}.options: 'server.port'", "use port"),
    ({"options": {"server.address": "::"}}, "{at}.options: 'server.address'", "use port"),
    ({"options": {"server.headless": False}}, "{at}.options: 'server.headless'", "remove it"),
    ({"options": {"server.enableXsrfProtection": False}}, "{at}.options: 'server.enableXsrfProtection'", "XSRF protection stays on"),
    ({"options": {"secrets.files": ["/x.toml"]}}, "{at}.options: 'secrets.files'", "use secrets_file"),
    ({"options": {"server.sslCertFile": "/c"}}, "{at}.options: 'server.sslCertFile'", "nginx_proxy_tls_certificate"),
    ({"options": {"server.runOnSave": "yes"}}, "{at}.options: server.runOnSave takes true or false", "got 'yes'"),
    ({"options": {"server.maxMessageSize": 1.5}}, "{at}.options: server.maxMessageSize takes an integer", "got 1.5"),
    ({"options": {"theme.base": ["dark"]}}, "{at}.options: theme.base takes a single str", "config.toml"),
    ({"options": {"server.folderWatchBlacklist": ["/a b"]}}, "{at}.options: server.folderWatchBlacklist", "without spaces"),
    ({"secrets_file": "/nonexistent/secrets.toml"}, "{at}.secrets_file: '/nonexistent/secrets.toml'", "give the path"),
    ({"cookie_secret": "short"}, "{at}.cookie_secret: must be at least 16 characters", "openssl rand -hex 32"),
    ({"memory": "1x"}, "{at}.memory: '1x'", "'512m' or '1g'"),
    ({"memory": "1m"}, "{at}.memory: '1m' is not a size of at least 6m", "'512m'"),
    ({"cpus": 0}, "{at}.cpus: 0.0 is not a positive number", "e.g. 1.5"),
    ({"cpus": "two"}, "{at}.cpus: 'two' is not a number", "CPU limit"),
    ({"log_max_size": "10"}, "{at}.log_max_size: '10'", "'10m'"),
    ({"registry": "u:p"}, "{at}.registry: must be a dict with the fields url, username, password", ""),
    ({"registry": {"username": "u"}}, "{at}.registry.password: is required", "vault"),
    ({"registry": {"username": "u", "password": "p", "token": "t"}}, "{at}.registry.token: is not a known field", "url, username, password"),
    ({"registry": {"url": "a b", "username": "u", "password": "p"}}, "{at}.registry: url 'a b'", "Docker Hub"),
    ({"volumes": ["/a"]}, "{at}.volumes[0]: '/a' is not 'SRC:DEST[:ro|rw]'", "'/srv/data:/data:ro'"),
    ({"volumes": ["/a:b"]}, "{at}.volumes[0]: '/a:b'", "absolute DEST"),
    ({"volumes": ["/a:/b:rx"]}, "{at}.volumes[0]: '/a:/b:rx' ends in 'rx'", "'ro' or 'rw'"),
    ({"volumes": ["/a:/run/streamlit_ops"]}, "{at}.volumes[0]: '/a:/run/streamlit_ops' mounts over", "choose another DEST"),
    ({"user": "a b"}, "{at}.user: 'a b'", "'1000:1000'"),
    ({"volumes": ["/:/host:ro"]}, "{at}.volumes[0]: '/:/host:ro' mounts the host's /", "privileged_mounts: true"),
    ({"volumes": ["/etc/:/hostetc"]}, "{at}.volumes[0]: '/etc/:/hostetc' mounts the host's /etc/", "privileged_mounts: true"),
    ({"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}, "{at}.volumes[0]: '/var/run/docker.sock:/var/run/docker.sock'",
     "privileged_mounts: true"),
    ({"volumes": ["/run:/x"]}, "{at}.volumes[0]: '/run:/x' mounts the host's /run", "mount only what it needs"),
    ({"pids_limit": -5}, "{at}.pids_limit: -5 is not a number of processes", "0 for no limit"),
    ({"read_only": "maybe"}, "{at}.read_only: 'maybe' is not true or false", ""),
    ({"env": {"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1"}}, "{at}.env: STREAMLIT_SERVER_MAX_UPLOAD_SIZE is set by the collection", "max_upload_mb"),
    ({"env": {"FORWARDED_ALLOW_IPS": "*"}}, "{at}.env: FORWARDED_ALLOW_IPS is set by the collection", "remove it"),
    ({"env": {"1BAD": "x"}}, "{at}.env: '1BAD' is not an environment variable name", ""),
    ({"env": {"EMPTY": None}}, "{at}.env: the value of EMPTY must be a string", "quote it"),
    ({"image": "has space"}, "{at}.image: 'has space' is not an image reference", "registry.example.com/app:1.0"),
    ({"image_archive": "/nonexistent.tar"}, "{at}.image_archive: '/nonexistent.tar' is not a file on the controller", "docker save"),
    ({"command": []}, "{at}.command: must be a non-empty string or list", "streamlit"),
    ({"port": 70000}, "{at}.port: 70000 is not a port", "1 to 65535"),
    ({"name": "Bad_Name"}, "{at}.name: 'Bad_Name' may only hold", "'bad-name'"),
    ({"path": "/a b/"}, "{at}.path: '/a b/' must start and end with '/'", "'/ab/'"),
    ({"colour": "red"}, "{at}.colour: is not a known field", "the known fields are name, path"),
]


VIEWS = {
    # The role checks its own input ...
    "role": (role, "streamlit_app_containers[0]"),
    # ... and the site the user's apps, with the same rule and the user's field name.
    "site": (site_errors, "streamlit_ops_apps[0]"),
}


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize(("over", "start", "fix"), FIELD_RULES)
def test_each_rule_names_the_field_and_the_fix(view, over, start, fix):
    check, at = VIEWS[view]
    errors = check(good(**over))
    assert len(errors) == 1, errors
    assert errors[0].startswith(start.format(at=at)), errors
    assert fix in errors[0], errors


def test_names_paths_and_ports_are_unique_on_a_host():
    errors = role(good(), good(path="/other/", port=8502), good(name="third", port=8501, path="/third/"))
    assert errors == [
        "streamlit_app_containers[1].name: 'demo' is already used by streamlit_app_containers[0]; give each app its own name.",
        "streamlit_app_containers[2].port: 8501 is already used by streamlit_app_containers[0]; give each app its own port.",
    ]


def test_the_same_port_on_different_children_is_fine():
    assert site_errors(good(hosts=["child1"]), good(name="b", path="/b/", hosts=["child2"])) == []
    (error,) = site_errors(good(hosts=["child1"]), good(name="b", path="/b/"))
    assert error == "streamlit_ops_apps[1].port: 8501 is already used by streamlit_ops_apps[0] on child1; give each app its own port."


def test_the_archive_must_hold_the_image(tmp_path):
    archive = docker_archive(tmp_path / "a.tar", "demo:1.0")
    assert role(good(image_archive=archive)) == []
    (error,) = role(good(image="demo:2.0", image_archive=archive))
    assert error.startswith("streamlit_app_containers[0].image_archive:") and "save the image under the tag given in image" in error


def test_archive_id_is_the_config_digest(tmp_path):
    import hashlib

    from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.docker_archive import archive_image_id

    archive = docker_archive(tmp_path / "a.tar", "docker.io/library/demo:latest", config=b"{}")
    assert archive_image_id(archive, "demo") == "sha256:" + hashlib.sha256(b"{}").hexdigest()


@pytest.mark.parametrize(
    ("address", "start"),
    [
        ("child.example.com", "streamlit_app_bind_address: 'child.example.com' is not an IP address"),
        ("0.0.0.0", "streamlit_app_bind_address: '0.0.0.0' is not an address the proxy reaches"),
        ("::", "streamlit_app_bind_address: '::' is not an address the proxy reaches"),
        ("127.0.0.1", "streamlit_app_bind_address: '127.0.0.1' is not an address the proxy reaches"),
        ("", "streamlit_app_bind_address: '' is not an IP address"),
    ],
)
def test_the_bind_address_is_an_ip_the_proxy_reaches(address, start):
    (error,) = role(good(), address=address)
    assert error.startswith(start), error
    assert role(good(), address="fd00::11") == []


def test_forwarded_allow_ips_are_ips_or_networks():
    assert role(good(), forwarded=["10.0.0.10", "fd00::/64"]) == []
    (error,) = role(good(), forwarded=["master.example.com"])
    assert error.startswith("streamlit_app_forwarded_allow_ips: 'master.example.com' is not an IP address or network")


def test_no_containers_is_fine_for_the_role():
    assert role() == []


def test_an_image_a_container_runs_as_wanted_is_settled(tmp_path):
    from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import streamlit_app_settled_images

    archive = docker_archive(tmp_path / "a.tar", "demo:1.0", config=b"{}")
    import hashlib
    archive_id = "sha256:" + hashlib.sha256(b"{}").hexdigest()
    running = [{"Image": "demo:1.0", "ImageID": archive_id}, {"Image": "other:2", "ImageID": "sha256:x"}]
    apps = [good(image_archive=archive), good(name="b", path="/b/", port=8502, image="other:2"),
            good(name="c", path="/c/", port=8503, image="third:3")]
    assert streamlit_app_settled_images(apps, running) == ["demo:1.0", "other:2"]
    # Controls: another image ID than the archive's, pull always, no container.
    assert streamlit_app_settled_images(apps, [dict(running[0], ImageID="sha256:old")]) == []
    assert streamlit_app_settled_images([good(image="other:2", pull="always")], running) == []
    assert streamlit_app_settled_images(apps, []) == []


@pytest.mark.parametrize("volume", ["/:/host", "/etc:/etc2:ro", "/var/run/docker.sock:/sock", "/srv/docker.sock:/s"])
def test_privileged_mounts_true_allows_the_hosts_root_etc_and_socket(volume):
    assert role(good(volumes=[volume])) != []
    assert role(good(volumes=[volume], privileged_mounts=True)) == []
    assert site_errors(good(volumes=[volume], privileged_mounts=True)) == []


@pytest.mark.parametrize("volume", ["/etc/ssl/certs:/etc/ssl/certs:ro", "/srv/etc:/data", "appdata:/etc", "/var/lib/app:/data"])
def test_other_mounts_need_no_privilege(volume):
    assert role(good(volumes=[volume])) == []


def test_firewall_on_with_nobody_allowed_fails_naming_the_variable():
    errors = streamlit_app_errors([good()], "10.0.0.11", [], True, [])
    assert errors == [errors[0]] and errors[0].startswith("streamlit_app_firewall_allow: is empty with streamlit_app_firewall on")
    assert "streamlit_app_firewall: false" in errors[0]
    # The control: allowed sources, or the firewall off, pass.
    assert streamlit_app_errors([good()], "10.0.0.11", [], True, ["10.0.0.10"]) == []
    assert streamlit_app_errors([good()], "10.0.0.11", [], False, []) == []


def test_firewall_allow_takes_ips_and_networks_only():
    errors = streamlit_app_errors([good()], "10.0.0.11", [], True, ["proxy.example.com", "10.0.0.0/8"])
    assert errors == ["streamlit_app_firewall_allow: 'proxy.example.com' is not an IP address or network; list IPs or CIDRs, e.g. '10.0.0.5'."]


def test_firewall_sources_keep_the_bind_address_family_as_networks():
    from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import streamlit_app_firewall_sources

    allow = ["10.0.0.10", "10.0.0.10/32", "fd00::1", "10.1.0.0/16"]
    assert streamlit_app_firewall_sources(allow, "10.0.0.11") == ["10.0.0.10/32", "10.1.0.0/16"]
    assert streamlit_app_firewall_sources(allow, "fd00::11") == ["fd00::1/128"]


def test_hardening_fields_are_the_same_for_the_role_and_the_site():
    fields = ("read_only", "no_new_privileges", "cap_drop_all", "pids_limit", "privileged_mounts")
    assert set(fields) <= set(site.CONTAINER_FIELDS)
    app = good(read_only=False, no_new_privileges=False, cap_drop_all=False, pids_limit=0, privileged_mounts=True)
    plan = site.plan({"streamlit_ops_apps": [dict(app, max_upload_mb=200, ping_interval=30, sticky=True)]}, CHILDREN, HOSTS, ["10.0.0.10"])
    item = plan["children"]["child1"]["containers"][0]
    assert {f: item[f] for f in fields} == {
        "read_only": False, "no_new_privileges": False, "cap_drop_all": False, "pids_limit": 0, "privileged_mounts": True,
    }

"""The streamlit_apps rules: each bad value gets one message naming the field."""

import io
import json
import tarfile

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.filter import apps as f

CHILDREN = ["child1", "child2"]


def good(**over):
    app = {"name": "demo", "image": "demo:1.0", "port": 8501}
    app.update(over)
    return app


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


def test_good_apps_pass():
    apps = [good(), good(name="other", port=8502, hosts=["child2"], env={"A": 1})]
    assert f.apps_errors(apps, CHILDREN) == []


@pytest.mark.parametrize(
    ("apps", "field"),
    [
        ([good(), good(port=8502, path="/x/")], "streamlit_apps[1].name"),
        ([good(name="Bad_Name")], "streamlit_apps[0].name"),
        ([good(path="/a/"), good(name="b", path="/a/", port=1)], "streamlit_apps[1].path"),
        ([good(path="/a b/")], "streamlit_apps[0].path"),
        ([good(path="noslash")], "streamlit_apps[0].path"),
        ([good(image="")], "streamlit_apps[0].image"),
        ([good(image_archive="/nonexistent.tar")], "streamlit_apps[0].image_archive"),
        ([good(), good(name="b")], "streamlit_apps[1].port"),
        ([good(port=70000)], "streamlit_apps[0].port"),
        ([good(hosts=[])], "streamlit_apps[0].hosts"),
        ([good(hosts=["child9"])], "streamlit_apps[0].hosts"),
        ([good(env={"STREAMLIT_SERVER_ENABLE_CORS": "true"})], "streamlit_apps[0].env"),
        ([good(env={"1BAD": "x"})], "streamlit_apps[0].env"),
        ([good(command=[])], "streamlit_apps[0].command"),
    ],
)
def test_each_rule_names_its_field(apps, field):
    errors = f.apps_errors(apps, CHILDREN)
    assert any(e.startswith(field + ":") for e in errors), errors


def test_same_port_on_different_children_is_fine():
    apps = [good(hosts=["child1"]), good(name="b", hosts=["child2"])]
    assert f.apps_errors(apps, CHILDREN) == []


def test_role_view_names_its_own_variable():
    errors = f.apps_errors([good(), good(name="b")], varname="streamlit_app_containers")
    assert errors and errors[0].startswith("streamlit_app_containers[1].port:")


def test_archive_must_hold_the_image(tmp_path):
    archive = docker_archive(tmp_path / "a.tar", "demo:1.0")
    assert f.apps_errors([good(image_archive=archive)], CHILDREN) == []
    errors = f.apps_errors([good(image="demo:2.0", image_archive=archive)], CHILDREN)
    assert errors and errors[0].startswith("streamlit_apps[0].image_archive:")


def test_archive_id_is_the_config_digest(tmp_path):
    import hashlib

    from ansible_collections.streamlit_ops.deploy.plugins.module_utils.docker_archive import archive_image_id

    archive = docker_archive(tmp_path / "a.tar", "docker.io/library/demo:latest", config=b"{}")
    assert archive_image_id(archive, "demo") == "sha256:" + hashlib.sha256(b"{}").hexdigest()


def test_managed_env_wins_and_is_text():
    env = f.container_env(good(path="/streamlitApp/", env={"FLAG": True, "N": 3}))
    assert env["STREAMLIT_SERVER_ENABLE_CORS"] == "false"
    assert env["STREAMLIT_SERVER_BASE_URL_PATH"] == "streamlitApp"
    assert env["STREAMLIT_SERVER_HEADLESS"] == "true"
    assert env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"
    assert (env["FLAG"], env["N"]) == ("true", "3")


def test_children_and_backends_follow_hosts():
    apps = [good(), good(name="b", port=8502, hosts=["child2"])]
    assert [a["name"] for a in f.child_containers(apps, "child1", CHILDREN)] == ["demo"]
    assert f.child_containers(apps, "child2", CHILDREN)[0]["path"] == "/demo/"
    proxied = f.proxy_apps(apps, CHILDREN, {"child1": "10.0.0.1", "child2": "fd00::2"})
    assert proxied[0]["backends"] == ["10.0.0.1:8501", "[fd00::2]:8501"]
    assert proxied[1]["backends"] == ["[fd00::2]:8502"]


def test_child_address_must_be_an_ip():
    assert f.address_errors("10.0.0.1", "c") == []
    assert f.address_errors("child.example.com", "c")[0].startswith("streamlit_child_address of c:")


def test_empty_apps_fail_in_the_playbook_view_only():
    assert f.apps_errors([], CHILDREN)[0].startswith("streamlit_apps: is empty")
    assert f.apps_errors([], varname="streamlit_app_containers") == []


PATHS = ["/", "/streamlitApp/", "/team.a/app_v1.2/", "/a/../", "/./", "/a//", "/a b/", "noslash", "/a", "/.hidden/"]
NAMES = ["demo", "sales-dash", "a1", "-lead", "trail-", "Bad_Name", "", "a.b"]


@pytest.mark.parametrize("path", PATHS)
def test_site_and_nginx_proxy_agree_on_paths(path):
    site = any(e.startswith("streamlit_apps[0].path") for e in f.apps_errors([good(path=path)], CHILDREN))
    proxy = f.proxy_apps_errors([{"name": "demo", "path": path, "backends": ["10.0.0.1:1"]}])
    assert site == bool(proxy), (path, proxy)


@pytest.mark.parametrize("name", NAMES)
def test_site_and_nginx_proxy_agree_on_names(name):
    site = any(e.startswith("streamlit_apps[0].name") for e in f.apps_errors([good(name=name)], CHILDREN))
    proxy = f.proxy_apps_errors([{"name": name, "path": "/x/", "backends": ["10.0.0.1:1"]}])
    assert site == bool(proxy), (name, proxy)


def test_dot_segments_are_rejected_with_a_usable_hint():
    (error,) = f.proxy_apps_errors([{"name": "demo", "path": "/a/../b c/", "backends": ["10.0.0.1:1"]}])
    assert error.startswith("nginx_proxy_apps[0].path: '/a/../b c/' must start and end with '/'")
    assert error.endswith("use e.g. '/a/bc/'")


@pytest.mark.parametrize(
    ("backends", "field"),
    [
        ("10.0.0.1:1", "nginx_proxy_apps[0].backends: is a string"),
        ([], "nginx_proxy_apps[0].backends: is empty"),
        (["10.0.0.1"], "nginx_proxy_apps[0].backends[0]: '10.0.0.1' is not ADDRESS:PORT"),
        (["10.0.0.1:70000"], "nginx_proxy_apps[0].backends[0]: '10.0.0.1:70000' is not ADDRESS:PORT"),
        (["[::1]:8501", "[::1]:8501"], "nginx_proxy_apps[0].backends[1]: '[::1]:8501' is listed twice"),
    ],
)
def test_proxy_backends(backends, field):
    (error,) = f.proxy_apps_errors([{"name": "demo", "path": "/x/", "backends": backends}])
    assert error.startswith(field), error


def test_proxy_good_input_and_duplicates():
    good_apps = [
        {"name": "a", "path": "/a/", "backends": ["10.0.0.1:8501", "host.example:8501", "[fd00::1]:8501"]},
        {"name": "b", "path": "/", "backends": ["10.0.0.2:8502"]},
    ]
    assert f.proxy_apps_errors(good_apps) == []
    dup = good_apps + [{"name": "a", "path": "/a/", "backends": ["10.0.0.3:1"]}]
    assert f.proxy_apps_errors(dup) == [
        "nginx_proxy_apps[2].name: 'a' is already used by nginx_proxy_apps[0]: give every app its own name",
        "nginx_proxy_apps[2].path: '/a/' is already used by nginx_proxy_apps[0]: give every app its own path",
    ]
    assert f.proxy_apps_errors([])[0].startswith("nginx_proxy_apps is empty")

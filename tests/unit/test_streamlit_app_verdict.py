"""The role's verdict on one host read (streamlit_app vars/main.yml, verdict.yml): what each step has to do, in one
filter call. Each case drifts one part of a read that leaves nothing to do, and checks that exactly the parts it
touches flip; the unchanged read is every case's control."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import streamlit_app_spec_labels, streamlit_app_verdict

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests/unit/streamlit_app/verdict.yml"
LABEL = "streamlit_ops.deploy.app"
PREFIX = "streamlit-"
SOCKET = "/var/run/docker.sock"
FORWARDED, BIND, REVISION = ["10.0.0.10"], "10.0.0.11", "r1"
WANTED = {"script": "a" * 64, "dropin": "b" * 64}
SETTINGS = {"docker_install": True, "engine_packages": ["docker.io", "docker-ce"], "python_packages": ["python3-requests"],
            "socket": SOCKET, "firewall": True, "firewall_sha256": WANTED, "prefix": PREFIX, "label": LABEL}
NOTHING_TO_DO = {"missing": [], "to_install": False, "firewall_settled": True, "images_settled": True,
                 "containers_in_place": True, "unchanged": True, "nothing_to_do": True}


def app(**over):
    return dict({"name": "demo", "path": "/demo/", "image": "demo:1.0", "port": 8501}, **over)


def container(item, labels, **over):
    """The container the service step creates for item, as host_info lists it."""
    return dict({
        "Names": [f"/{PREFIX}{item['name']}"], "Image": item["image"], "ImageID": "sha256:1", "State": "running",
        "Status": "Up 2 minutes (healthy)", "Labels": {LABEL: item["name"], f"{LABEL}.spec": labels[item["name"]]},
        "HostConfig": {"Memory": 0, "NanoCpus": 0, "PidsLimit": 1024, "RestartPolicy": {"Name": "unless-stopped"}},
    }, **over)


def read(apps, secret_names=(), **over):
    """A read of a host the role left as it is."""
    labels = streamlit_app_spec_labels(apps, FORWARDED, BIND, list(secret_names), REVISION)
    found = dict({
        "packages": {"docker.io": True, "docker-ce": False, "python3-requests": True},
        "paths": {SOCKET: {"exists": True}},
        "docker_containers": [container(item, labels) for item in apps],
        "firewall": {"rules_in_place": True, "script": {"sha256": WANTED["script"], "root_with_mode": True},
                     "dropin": {"sha256": WANTED["dropin"], "root_with_mode": True}},
    }, **over)
    return found


def verdict(apps, found, **over):
    result = streamlit_app_verdict(apps, found, FORWARDED, BIND, REVISION, **dict(SETTINGS, **over))
    return {key: value for key, value in result.items() if key in NOTHING_TO_DO}


def test_a_host_as_the_role_left_it_has_nothing_to_do():
    apps = [app(), app(name="other", path="/other/", port=8502)]
    result = streamlit_app_verdict(apps, read(apps), FORWARDED, BIND, REVISION, **SETTINGS)
    assert {key: result[key] for key in NOTHING_TO_DO} == NOTHING_TO_DO
    # The labels the service step puts on the containers, from the same call.
    assert result["spec_labels"] == streamlit_app_spec_labels(apps, FORWARDED, BIND, [], REVISION)
    assert result["secret_names"] == []


@pytest.mark.parametrize("drift, over, flipped", [
    ({"packages": {"docker.io": True, "python3-requests": False}}, {},
     {"missing": ["python3-requests"], "to_install": True}),
    # No engine running and none installed: docker.io, and nothing that needs the engine is settled.
    ({"packages": {"python3-requests": True}, "paths": {SOCKET: {"exists": False}}, "docker_containers": None}, {},
     {"missing": ["docker.io"], "to_install": True, "firewall_settled": False, "images_settled": False,
      "containers_in_place": False, "unchanged": False}),
    # docker-ce installed but stopped: docker.io would conflict with it.
    ({"packages": {"docker-ce": True, "python3-requests": True}, "paths": {SOCKET: {"exists": False}}}, {},
     {"to_install": True, "firewall_settled": False}),
    ({"paths": {SOCKET: {"exists": False}}}, {"docker_install": False}, {"to_install": True, "firewall_settled": False}),
    ({}, {"firewall": False}, {"firewall_settled": False}),
    ({}, {"firewall_sha256": {"script": "c" * 64, "dropin": WANTED["dropin"]}}, {"firewall_settled": False}),
    ({"firewall": {"rules_in_place": False, "script": {"sha256": WANTED["script"], "root_with_mode": True},
                   "dropin": {"sha256": WANTED["dropin"], "root_with_mode": True}}}, {}, {"firewall_settled": False}),
    ({"firewall": {"rules_in_place": True, "script": {"sha256": WANTED["script"], "root_with_mode": True},
                   "dropin": {"sha256": WANTED["dropin"], "root_with_mode": False}}}, {}, {"firewall_settled": False}),
    ({"firewall": {}}, {}, {"firewall_settled": False}),
    ({"docker_containers": []}, {}, {"images_settled": False, "containers_in_place": False, "unchanged": False}),
], ids=["python-library", "no-engine", "engine-stopped", "no-install", "firewall-off", "firewall-content",
        "firewall-rules", "dropin-mode", "firewall-unread", "no-containers"])
def test_each_drift_flips_what_it_touches(drift, over, flipped):
    apps = [app()]
    assert verdict(apps, read(apps)) == NOTHING_TO_DO
    assert verdict(apps, read(apps, **drift), **over) == dict(NOTHING_TO_DO, nothing_to_do=False, **flipped)


@pytest.mark.parametrize("case", ["stray", "unhealthy", "other-spec"])
def test_containers_out_of_place_leave_the_images_settled(case):
    apps = [app()]
    labels = streamlit_app_spec_labels(apps, FORWARDED, BIND, [], REVISION)
    listed = {"stray": [container(apps[0], labels), container(app(name="gone", path="/gone/"), {"gone": "x"})],
              "unhealthy": [container(apps[0], labels, Status="Up 2 minutes (unhealthy)")],
              "other-spec": [container(apps[0], {"demo": "another"})]}[case]
    assert verdict(apps, read(apps, docker_containers=listed)) == dict(
        NOTHING_TO_DO, containers_in_place=False, unchanged=False, nothing_to_do=False)


def rollout(apps, found, **over):
    result = streamlit_app_verdict(apps, found, FORWARDED, BIND, REVISION, **dict(SETTINGS, **over))
    return result["rollout_only"], result["rollout"]


def test_a_changed_setting_on_a_settled_host_goes_straight_to_the_rollout():
    """A new spec label on a running container, nothing to install or load: the read names the replacement, and
    the site playbook drains and replaces with no image step or preview first. Control: the host as the role left
    it replaces nothing."""
    apps = [app(), app(name="other", path="/other/", port=8502)]
    found = read(apps)
    assert rollout(apps, found) == (False, [])
    changed = [app(env={"A": "1"}), apps[1]]
    assert rollout(changed, found) == (True, ["demo"])
    # A check run's report of the change is the service step's own, in check mode.
    assert rollout(changed, found, check_mode=True) == (True, [])
    assert rollout(changed, found, check_mode="no") == (True, ["demo"])


@pytest.mark.parametrize("case", ["install", "firewall", "image", "secrets", "stopped", "pids", "new-app-only"])
def test_anything_else_to_do_first_or_unknown_keeps_the_preview(case):
    """Something to install, rules or an image to put in place, or a replacement only docker_container can judge
    (a secrets.toml that may change, a stopped container, a limit changed by hand, each beside the changed app),
    or nothing replaced at all (a new app): the child goes through the image step and the preview. Control: the
    same change alone goes straight through."""
    apps = [app(env={"A": "1"})]
    found = read([app()])
    assert rollout(apps, found) == (True, ["demo"])
    demo = found["docker_containers"][0]
    over, settings = {}, {}
    if case == "install":
        over = {"packages": {"docker.io": True, "python3-requests": False}}
    elif case == "firewall":
        settings = {"firewall_sha256": {"script": "c" * 64, "dropin": WANTED["dropin"]}}
    elif case == "image":
        over = {"docker_containers": [dict(demo, Image="sha256:2")]}
    elif case in ("secrets", "stopped"):
        # Beside demo's change, another app whose container has its spec label.
        other = app(name="other", path="/other/", port=8502, **({"secrets_file": "/etc/s.toml"} if case == "secrets" else {}))
        names = ["other"] if case == "secrets" else []
        labelled = container(other, streamlit_app_spec_labels([other], FORWARDED, BIND, names, REVISION),
                             **({"State": "exited"} if case == "stopped" else {}))
        over = {"docker_containers": [demo, labelled]}
        apps = apps + [other]
        # Control: with that container running and no secrets.toml, the change alone goes straight through.
        plain = app(name="other", path="/other/", port=8502)
        assert rollout([apps[0], plain], read([app()], docker_containers=[demo, container(
            plain, streamlit_app_spec_labels([plain], FORWARDED, BIND, [], REVISION))])) == (True, ["demo"])
    elif case == "pids":
        over = {"docker_containers": [dict(container(app(), streamlit_app_spec_labels([app()], FORWARDED, BIND, [], REVISION)),
                                           HostConfig=dict(demo["HostConfig"], PidsLimit=99))]}
        apps = [app()]
    elif case == "new-app-only":
        apps = [app(), app(name="new", path="/new/", port=8502)]
    assert rollout(apps, read([app()], **over), **settings) == (False, [])


GONE = {"rules_in_place": False, "script": {"sha256": None, "root_with_mode": False},
        "dropin": {"sha256": None, "root_with_mode": False}}


@pytest.mark.parametrize("left", ["script", "dropin", "not-read"])
def test_with_the_firewall_off_a_host_without_its_files_has_nothing_to_do(left):
    """Off, the firewall step takes the rules out with the script, then both files: once the read finds neither,
    it has nothing to do, and a rerun goes no further than the read. Control: either file still there, or a read
    that did not look, leaves the step to run."""
    apps = [app()]
    assert verdict(apps, read(apps, firewall=GONE), firewall=False) == NOTHING_TO_DO
    if left == "not-read":
        found = read(apps)
        del found["firewall"]
    else:
        found = read(apps, firewall=dict(GONE, **{left: {"sha256": WANTED[left], "root_with_mode": True}}))
    assert verdict(apps, found, firewall=False) == dict(NOTHING_TO_DO, firewall_settled=False, nothing_to_do=False)
    # On, the same files gone are a firewall to put in place.
    assert verdict(apps, read(apps, firewall=GONE))["firewall_settled"] is False


def test_an_app_with_secrets_is_never_unchanged_and_is_named():
    login = {"redirect_uri": "https://x/oauth2callback", "client_id": "i", "client_secret": "s",
             "server_metadata_url": "https://x/.well-known"}
    apps = [app(secrets_file="/etc/s.toml"), app(name="login", path="/login/", port=8502, login=login)]
    result = streamlit_app_verdict(apps, read(apps, secret_names=["demo", "login"]), FORWARDED, BIND, REVISION, **SETTINGS)
    assert result["secret_names"] == ["demo", "login"]
    assert result["containers_in_place"] and not result["unchanged"] and not result["nothing_to_do"]
    assert result["spec_labels"] == streamlit_app_spec_labels(apps, FORWARDED, BIND, ["demo", "login"], REVISION)


@pytest.mark.parametrize("given, installs", [("false", False), ("true", True)])
def test_settings_given_as_strings_are_read_as_booleans(tmp_path, given, installs):
    """`-e streamlit_app_docker_install=false` gives the string "false", which Python takes as true: the filter
    reads its settings as Ansible reads booleans. Control: "true" installs docker.io on the same read."""
    out = tmp_path / "verdict.json"
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(PLAYBOOK),
                          "-e", f"streamlit_app_docker_install={given}", "-e", f"out={out}"],
                         cwd=REPO, env={**os.environ, "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert ("docker.io" in json.loads(out.read_text())["missing"]) is installs


@pytest.mark.parametrize("given", [False, "false", "no", "0"])
def test_the_filter_reads_booleans_as_ansible_does(given):
    """Any caller of the filter, not only the role's, may hand it a string. Control: True is the default read."""
    apps = [app()]
    no_engine = read(apps, packages={"python3-requests": True}, paths={SOCKET: {"exists": False}}, docker_containers=None)
    assert verdict(apps, no_engine)["missing"] == ["docker.io"]
    assert verdict(apps, no_engine, docker_install=given)["missing"] == []
    assert verdict(apps, read(apps), firewall=given)["firewall_settled"] is False

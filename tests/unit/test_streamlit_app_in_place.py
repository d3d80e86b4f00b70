"""What the host read tells of the service step (streamlit_app vars/main.yml). A rerun's short way: an app's container
is in place only when the service step would leave it exactly as it is; every kind of drift makes the role run the step.
The preview of a rolling update: the containers the step replaces, told from the read only where it is sure."""

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.filter.streamlit_app import (
    streamlit_app_in_place, streamlit_app_replacing, streamlit_app_spec_labels,
)

LABEL = "streamlit_ops.deploy.app"
PREFIX = "streamlit-"


def app(**over):
    return dict({"name": "demo", "path": "/demo/", "image": "demo:1.0", "port": 8501, "memory": "512m", "cpus": 1.5}, **over)


def labels(apps, forwarded=("10.0.0.10",), bind="10.0.0.11", secrets=(), revision="r1"):
    return streamlit_app_spec_labels(apps, list(forwarded), bind, list(secrets), revision)


def container(item, spec_labels, **over):
    """The container the service step creates for item, as host_info lists it."""
    listed = {
        "Names": [f"/{PREFIX}{item['name']}"], "Image": item["image"], "ImageID": "sha256:1", "State": "running",
        "Status": "Up 2 minutes (healthy)", "Labels": {LABEL: item["name"], f"{LABEL}.spec": spec_labels[item["name"]]},
        "HostConfig": {"NetworkMode": "bridge", "Memory": 512 * 1024**2, "NanoCpus": 1_500_000_000, "PidsLimit": 1024,
                       "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
    }
    listed.update(over)
    return listed


def in_place(apps, listed, spec_labels):
    return streamlit_app_in_place(apps, listed, spec_labels, PREFIX, LABEL)


def test_a_container_created_from_this_spec_running_healthy_and_not_updated_is_in_place():
    apps = [app(), app(name="other", path="/other/", port=8502, memory=None, cpus=None, pids_limit=0)]
    spec = labels(apps)
    listed = [container(apps[0], spec),
              container(apps[1], spec, HostConfig={"Memory": 0, "NanoCpus": 0, "PidsLimit": None, "RestartPolicy": {"Name": "unless-stopped"}})]
    assert in_place(apps, listed, spec) == ["demo", "other"]


@pytest.mark.parametrize("drift", [
    {"Labels": {LABEL: "demo", f"{LABEL}.spec": "another"}},
    {"Labels": {LABEL: "demo"}},
    {"Image": "sha256:2"},
    {"State": "exited", "Status": "Exited (0) 3 seconds ago"},
    {"Status": "Up 5 seconds (health: starting)"},
    {"Status": "Up 2 minutes (unhealthy)"},
    {"Names": ["/streamlit-renamed"]},
    {"HostConfig": {"Memory": 1024**3, "NanoCpus": 1_500_000_000, "PidsLimit": 1024, "RestartPolicy": {"Name": "unless-stopped"}}},
    {"HostConfig": {"Memory": 512 * 1024**2, "NanoCpus": 0, "PidsLimit": 1024, "RestartPolicy": {"Name": "unless-stopped"}}},
    {"HostConfig": {"Memory": 512 * 1024**2, "NanoCpus": 1_500_000_000, "PidsLimit": 0, "RestartPolicy": {"Name": "unless-stopped"}}},
    {"HostConfig": {"Memory": 512 * 1024**2, "NanoCpus": 1_500_000_000, "PidsLimit": 1024, "RestartPolicy": {"Name": "no"}}},
    {"HostConfig": {"NetworkMode": "bridge"}},
], ids=["other-spec", "no-spec-label", "tag-moved", "stopped", "starting", "unhealthy", "renamed", "memory-updated",
        "cpus-updated", "pids-updated", "restart-updated", "not-inspected"])
def test_each_drift_takes_the_container_out_of_place(drift):
    apps = [app()]
    spec = labels(apps)
    # Control: the same container without the drift is in place.
    assert in_place(apps, [container(apps[0], spec)], spec) == ["demo"]
    assert in_place(apps, [container(apps[0], spec, **drift)], spec) == []


def test_the_spec_label_changes_with_every_input_of_the_container():
    base = labels([app()])["demo"]
    assert labels([app()])["demo"] == base
    changed = [
        labels([app(env={"A": "1"})]), labels([app(port=8600)]), labels([app(image="demo:1.1")]), labels([app(memory="1g")]),
        labels([app(read_only=False)]), labels([app(options={"theme.base": "dark"})]), labels([app(cookie_secret="s" * 32)]),
        labels([app()], forwarded=("10.0.0.99",)), labels([app()], bind="10.0.0.12"), labels([app()], secrets=["demo"]),
        labels([app()], revision="r2"),
    ]
    assert all(c["demo"] != base for c in changed)
    assert len({c["demo"] for c in changed}) == len(changed)


def test_no_container_and_pull_always_are_never_in_place():
    apps = [app()]
    spec = labels(apps)
    assert in_place(apps, [], spec) == []
    always = [app(pull="always")]
    assert in_place(always, [container(always[0], labels(always))], labels(always)) == []


def replacing(apps, listed, spec_labels, secret_names=()):
    return streamlit_app_replacing(apps, listed, spec_labels, PREFIX, LABEL, list(secret_names))


def test_a_new_spec_label_is_a_replaced_container_and_the_same_one_on_a_running_container_is_not():
    apps = [app(), app(name="other", path="/other/", port=8502), app(name="new", path="/new/", port=8503)]
    spec = labels(apps)
    changed = labels([app(env={"A": "1"})])
    listed = [container(apps[0], changed), container(apps[1], spec)]
    assert replacing(apps, listed, spec) == {"known": True, "apps": ["demo"]}
    # Control: each container with its own label replaces none; no container at all neither (created, not replaced).
    assert replacing(apps, [container(apps[0], spec), container(apps[1], spec)], spec) == {"known": True, "apps": []}
    assert replacing(apps, [], spec) == {"known": True, "apps": []}


@pytest.mark.parametrize("drift", [
    {"Status": "Up 2 minutes (unhealthy)"},
    {"Status": "Up 5 seconds (health: starting)"},
], ids=["unhealthy", "starting"])
def test_health_drift_leaves_a_labelled_container_running(drift):
    """The service step neither recreates nor restarts for these: it waits for health."""
    apps = [app()]
    spec = labels(apps)
    listed = [container(apps[0], spec, **drift)]
    assert replacing(apps, listed, spec) == {"known": True, "apps": []}
    # Control: the same drift on a container of another spec is a replacement.
    assert replacing(apps, [container(apps[0], labels([app(port=8600)]), **drift)], spec) == {"known": True, "apps": ["demo"]}


def host_config(**over):
    return dict({"Memory": 512 * 1024**2, "NanoCpus": 1_500_000_000, "PidsLimit": 1024,
                 "RestartPolicy": {"Name": "unless-stopped"}}, **over)


CASES = ["stopped", "restarting", "pull-always", "tag-moved", "secrets", "memory-updated", "restart-updated",
         "cpus-updated", "pids-updated", "not-inspected"]


@pytest.mark.parametrize("case", CASES)
def test_what_only_docker_container_can_judge_is_unknown(case):
    """A start, a new image under the tag, a changed secrets.toml, a limit or restart policy changed by hand
    (docker_container updates the memory and restart policy in place and recreates for the CPUs and PIDs limit,
    which may differ by version): the preview asks the service step in check mode."""
    apps = [app(pull="always")] if case == "pull-always" else [app()]
    spec = labels(apps)
    over = {"stopped": {"State": "exited", "Status": "Exited (0) 3 seconds ago"},
            "restarting": {"State": "restarting", "Status": "Restarting (1) 2 seconds ago"},
            "tag-moved": {"Image": "sha256:2"},
            "memory-updated": {"HostConfig": host_config(Memory=1024**3)},
            "restart-updated": {"HostConfig": host_config(RestartPolicy={"Name": "no"})},
            "cpus-updated": {"HostConfig": host_config(NanoCpus=0)},
            "pids-updated": {"HostConfig": host_config(PidsLimit=99)},
            "not-inspected": {"HostConfig": {"NetworkMode": "bridge"}}}.get(case, {})
    secrets = ["demo"] if case == "secrets" else []
    assert replacing(apps, [container(apps[0], spec, **over)], spec, secrets) == {"known": False, "apps": []}
    # Control: another spec label is a replacement whatever else holds, secrets included.
    assert replacing(apps, [container(apps[0], labels([app(port=8600)]), **over)], spec, secrets) == {"known": True, "apps": ["demo"]}

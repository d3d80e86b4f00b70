"""The user's things on both hosts are as prepare left them: the container on
the child (same ID, still running, never restarted) and the two Nginx sites on
the master (files byte for byte, and the same answers). Each comparison is
shown to catch a change by a control that makes one on purpose."""

import json

from checks import http_get
from hosts import on, snapshot

USER_CONTAINER = "user-worker"
CONTROL_CONTAINER = "standalone-control"
# What changes when Docker or anyone restarts a container, or replaces it.
CONTAINER_FIELDS = (("Id",), ("Name",), ("Image",), ("State", "Running"), ("State", "StartedAt"),
                    ("RestartCount",), ("HostConfig", "RestartPolicy", "Name"))


def container_state(inspect: dict) -> dict:
    state = {}
    for keys in CONTAINER_FIELDS:
        value = inspect
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        state[".".join(keys)] = value
    return state


def inspect(child: str, name: str) -> dict:
    return json.loads(on(child, "docker", "container", "inspect", name).stdout)[0]


def file_changes(before: dict, now: dict) -> list[str]:
    """Paths whose kind, content hash or link target differs."""
    return [f"{path}: {before[path]} -> {now.get(path)}" for path in before if now.get(path) != before[path]]


def test_users_container_is_unchanged(child, user_container_before):
    now = container_state(inspect(child, USER_CONTAINER))
    assert now["State.Running"] is True, now
    assert now == container_state(user_container_before)


def test_control_a_restarted_container_is_detected(child):
    """docker restart keeps the ID and the restart count: the start time tells."""
    on(child, "docker", "rm", "--force", CONTROL_CONTAINER, check=False)
    on(child, "docker", "run", "--detach", "--name", CONTROL_CONTAINER, "--restart", "always",
       "debian:bookworm", "sleep", "infinity")
    try:
        before = container_state(inspect(child, CONTROL_CONTAINER))
        on(child, "docker", "restart", "--time", "0", CONTROL_CONTAINER)
        after = container_state(inspect(child, CONTROL_CONTAINER))
    finally:
        on(child, "docker", "rm", "--force", CONTROL_CONTAINER, check=False)
    assert before["Id"] == after["Id"] and after["State.Running"] is True
    assert before != after, "the container comparison misses a restart"


def test_users_files_are_byte_identical(master, user_files_before):
    assert file_changes(user_files_before, snapshot(master, user_files_before)) == []


def test_control_a_changed_user_file_is_detected(master, user_files_before):
    """A copy of the shop's site file with one line added, compared with the
    record of the original."""
    original, copy = "/etc/nginx/sites-available/shop", "/tmp/standalone-control-shop"
    on(master, "sh", "-c", f"cp {original} {copy} && echo '# edited' >>{copy}")
    try:
        changes = file_changes({copy: user_files_before[original]}, snapshot(master, [copy]))
    finally:
        on(master, "rm", "-f", copy)
    assert len(changes) == 1, "the file comparison misses an edit"


def test_users_sites_answer_as_before(user_answers_before):
    for url, body in user_answers_before.items():
        assert http_get(url)[:2] == (200, body), url


def test_control_the_apps_name_on_port_80_is_not_the_default_site(server_name, master_address, user_answers_before):
    """The same comparison for the name nginx_proxy serves on port 80 fails:
    the role's server answers it, not the user's default site."""
    shop = user_answers_before[f"http://{master_address}/"]
    assert http_get(f"http://{server_name}/")[:2] != (200, shop)

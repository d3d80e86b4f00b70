"""The real site playbook against the deployed test hosts: check mode changes
nothing, and every bad `streamlit_ops_apps` fails before any host changes."""

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hosts import HOST_READ, LOCK, PREVIEW_ASKS, at_once, inventory_hosts, task_output

ROOT = Path(__file__).resolve().parents[3]
RECAP = re.compile(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", re.M)
# Ansible's own warnings, as it prints them on stderr.
ANSIBLE_WARNING = re.compile(r"^\[(?:DEPRECATION )?WARNING\]:.*$", re.M)


@pytest.fixture(scope="module")
def inventory():
    path = os.environ.get("STREAMLIT_OPS_INVENTORY", "").strip()
    if not path:
        pytest.skip("STREAMLIT_OPS_INVENTORY is not set (Molecule's verify sets it)")
    return path


@pytest.fixture(scope="module")
def hosts(inventory):
    return inventory_hosts(inventory)


def playbook(inventory, *args, apps=None, book="site.yml"):
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(book), "-i", inventory, *args]
    if apps is not None:
        cmd += ["-e", json.dumps({"streamlit_ops_apps": apps})]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env, check=False)
    changed = {host: int(n) for host, n in RECAP.findall(result.stdout)}
    return result.returncode, result.stdout + result.stderr, changed


def host_state(hosts):
    """What a user would compare: the master's full Nginx config and the containers."""
    def run(host, *cmd):
        return subprocess.run(["docker", "exec", host, *cmd], capture_output=True, text=True, timeout=60, check=True).stdout

    state = {hosts["master"]: run(hosts["master"], "nginx", "-T")}
    for child in hosts["children"]:
        state[child] = run(child, "docker", "ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.ID}} {{.Image}} {{.Status}}")
        # Status carries uptime text; keep identity only.
        state[child] = "\n".join(" ".join(line.split()[:3]) for line in state[child].splitlines())
    return state


def test_check_mode_on_a_deployed_host_changes_nothing(inventory, hosts):
    rc, out, changed = playbook(inventory, "--check", "--diff")
    assert rc == 0, out[-3000:]
    assert changed and all(n == 0 for n in changed.values()), changed


def test_check_mode_reports_one_env_change_per_child_and_applies_nothing(inventory, hosts):
    apps = copy.deepcopy(hosts["apps"])
    apps[0].setdefault("env", {})["DEMO_GREETING"] = "changed in check mode"
    before = host_state(hosts)
    rc, out, changed = playbook(inventory, "--check", "--diff", apps=apps)
    assert rc == 0, out[-3000:]
    assert changed[hosts["master"]] == 0, changed
    assert all(changed[c] == 1 for c in hosts["children"]), changed
    assert host_state(hosts) == before
    # A check run's report of the change is the service step's own, in check mode, though the host read could tell.
    preview = task_output(out, PREVIEW_ASKS)
    assert all(re.search(r"included: \S+/service\.yml for .*\b" + re.escape(c) + r"\b", preview) for c in hosts["children"]), preview


def _bad(apps, index, **fields):
    apps = copy.deepcopy(apps)
    for key, value in fields.items():
        if value is None:
            apps[index].pop(key, None)
        else:
            apps[index][key] = value
    return apps


PLAIN_PASSWORD = "correct-horse-in-plain-text"
BAD_INPUT = {
    "duplicate name": (lambda a: a + _bad(a, 0, path="/other/", port=9999), "streamlit_ops_apps[1].name"),
    "bad path": (lambda a: _bad(a, 0, path="/has space/"), "streamlit_ops_apps[0].path"),
    "port taken on a child": (lambda a: a + _bad(a, 0, name="second", path="/second/"), "streamlit_ops_apps[1].port"),
    "missing image": (lambda a: _bad(a, 0, image=None), "streamlit_ops_apps[0].image"),
    "missing archive": (lambda a: _bad(a, 0, image_archive="/nonexistent/app.tar"), "streamlit_ops_apps[0].image_archive"),
    "unknown host": (lambda a: _bad(a, 0, hosts=["no-such-child"]), "streamlit_ops_apps[0].hosts"),
    "managed env": (lambda a: _bad(a, 0, env={"STREAMLIT_SERVER_ENABLE_CORS": "true"}), "streamlit_ops_apps[0].env"),
    # Issue 11: inputs that used to fail late, on the hosts.
    "path under another app's": (lambda a: a + _bad(a, 0, name="sub", path=(a[0].get("path") or f"/{a[0]['name']}/") + "sub/", port=9999),
                                 "streamlit_ops_apps[1].path: '/streamlitApp/sub/' lies under '/streamlitApp/'"),
    "newline in an option": (lambda a: _bad(a, 0, options={"theme.base": "dark\n"}), "streamlit_ops_apps[0].options: theme.base: 'dark\\n' holds a newline"),
    "null env value": (lambda a: _bad(a, 0, env={"DEMO_GREETING": None}), "streamlit_ops_apps[0].env: the value of DEMO_GREETING must be"),
    "secrets_file not TOML": (lambda a: _bad(a, 0, secrets_file=str(ROOT / "tests/e2e/default/bad-secrets.toml")),
                              "bad-secrets.toml' is not valid TOML (at line 3"),
    # Exists relative to the current directory, where the old rule looked; the role would not find it.
    "relative image_archive": (lambda a: _bad(a, 0, image_archive=".cache/images/streamlit-ops-demo.tar"),
                               "streamlit_ops_apps[0].image_archive: '.cache/images/streamlit-ops-demo.tar' is relative"),
    "uppercase image": (lambda a: _bad(a, 0, image="Streamlit-Ops-Demo:1.0"), "streamlit_ops_apps[0].image: 'Streamlit-Ops-Demo:1.0' is not a Docker"),
    # Issue 13: a password where its hash belongs.
    "plain password": (lambda a: _bad(a, 0, auth={"type": "basic", "users": [{"name": "alice", "password_hash": PLAIN_PASSWORD}]}),
                       "streamlit_ops_apps[0].auth.users[0].password_hash"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_naming_the_field_before_any_change(inventory, hosts, case):
    make, field = BAD_INPUT[case]
    before = host_state(hosts)
    # The first app alone, so the indexes in the messages are the table's.
    rc, out, dummy = playbook(inventory, apps=make(hosts["apps"][:1]))
    assert rc != 0, out[-3000:]
    assert field in out, out[-3000:]
    assert PLAIN_PASSWORD not in out
    assert host_state(hosts) == before


BAD_SETTINGS = {
    "renamed in 1.0.0": ({"streamlit_server_name": "apps.example.com"}, "streamlit_server_name was renamed in 1.0.0: set nginx_proxy_server_name"),
    "misspelt role variable": ({"nginx_proxy_server_nme": "x"}, "nginx_proxy_server_nme: is not a known variable; did you mean 'nginx_proxy_server_name'?"),
    "misspelt site variable": ({"streamlit_ops_origin_polcy": "strict"}, "streamlit_ops_origin_polcy: is not a known variable"),
    "loopback child address": ({"streamlit_app_bind_address": "127.0.0.1"}, "streamlit_app_bind_address of"),
    "the issue's own name": ({"streamlit_child_firewall": False},
                             "streamlit_child_firewall is called streamlit_app_firewall in this collection; set streamlit_app_firewall instead."),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_bad_settings_fail_naming_the_variable_before_any_change(inventory, hosts, case):
    settings, message = BAD_SETTINGS[case]
    apps = _bad(hosts["apps"], 0, env={"TEST_ROUND": "settings"})
    before = host_state(hosts)
    rc, out, dummy = playbook(inventory, "-e", json.dumps(settings), apps=apps)
    assert rc != 0, out[-3000:]
    assert message in out, out[-3000:]
    assert host_state(hosts) == before


def _make_pair(directory: Path, name: str) -> tuple[str, str]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def test_a_tls_key_of_another_certificate_fails_before_any_change(inventory, hosts, tmp_path):
    """Used to fail at the master's final nginx -t, after every child changed."""
    cert, key = _make_pair(tmp_path, "apps.example.test")
    other_key = _make_pair(tmp_path, "other.example.test")[1]
    apps = _bad(hosts["apps"], 0, env={"TEST_ROUND": "tls"})
    before = host_state(hosts)
    tls = {"nginx_proxy_tls_certificate": cert, "nginx_proxy_tls_certificate_key": other_key}
    rc, out, dummy = playbook(inventory, "-e", json.dumps(tls), apps=apps)
    assert rc != 0, out[-3000:]
    assert f"nginx_proxy_tls_certificate_key {other_key} is not the key of nginx_proxy_tls_certificate {cert}" in out, out[-3000:]
    assert host_state(hosts) == before
    # Control: the matching pair passes the checks (check mode: nothing applied).
    rc, out, dummy = playbook(inventory, "--check", "-e", json.dumps({**tls, "nginx_proxy_tls_certificate_key": key}), apps=apps)
    assert rc == 0, out[-3000:]
    assert host_state(hosts) == before


def _inventory_without(hosts: dict, tmp_path: Path, group: str, empty: bool) -> str:
    """The scenario's hosts and apps, with one of the two groups missing or empty."""
    connection = {"ansible_connection": "community.docker.docker"}
    groups = {"streamlit_master": [hosts["master"]], "streamlit_children": hosts["children"]}
    inventory = {"all": {"vars": {**hosts["settings"], "streamlit_ops_apps": hosts["apps"]}}}
    for name, members in groups.items():
        if name != group:
            inventory[name] = {"hosts": {h: {**connection, "ansible_host": h} for h in members}}
        elif empty:
            inventory[name] = {"hosts": {}}
    path = tmp_path / f"without-{group}-{empty}.json"
    path.write_text(json.dumps(inventory))
    return str(path)


_ENV = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")


@pytest.fixture(scope="module")
def both_groups_check(hosts, tmp_path_factory) -> subprocess.CompletedProcess:
    """The control of the site.yml cases below, run once: the same inventory
    with both groups passes the first play (check mode)."""
    path = _inventory_without(hosts, tmp_path_factory.mktemp("both-groups"), "none", False)
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "site.yml", "-i", path, "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=_ENV, check=False)


@pytest.mark.parametrize("name", ["site.yml", "remove.yml"])
@pytest.mark.parametrize(("group", "empty"), [("streamlit_master", False), ("streamlit_master", True), ("streamlit_children", False)])
def test_an_inventory_without_a_group_fails_before_any_change(inventory, hosts, tmp_path, name, group, empty, request):
    """remove.yml used to skip the master's play and remove the children's containers while Nginx still routed to them."""
    path = _inventory_without(hosts, tmp_path, group, empty)
    before = host_state(hosts)
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), name, "-i", path]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=_ENV, check=False)
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, out[-3000:]
    assert "The inventory needs at least one host in the group streamlit_master" in out, out[-3000:]
    assert "error while templating" not in out.lower(), out[-3000:]
    assert host_state(hosts) == before
    if name == "site.yml":
        control = request.getfixturevalue("both_groups_check")
        assert control.returncode == 0, control.stdout[-3000:]


@pytest.mark.parametrize("book", ["site.yml", "remove.yml"])
def test_a_limit_that_leaves_out_part_of_the_deployment_fails_before_any_change(inventory, hosts, book):
    """--limit one child used to fail in the plan with a misleading message (site.yml: the other children's bind
    address is '', set it) or, for remove.yml, to take out the child's containers while the master still routed
    to them. Every play is limited, the controller's own too: the check is a play over both groups."""
    child = hosts["children"][-1]
    left_out = ", ".join(h for h in [hosts["master"], *hosts["children"]] if h != child)
    before = host_state(hosts)
    rc, out, dummy = playbook(inventory, "--limit", child, book=book)
    flat = " ".join(out.split())
    assert rc != 0, out[-3000:]
    assert f"--limit {child} leaves out {left_out} of the groups streamlit_master and streamlit_children" in flat, flat[-3000:]
    assert host_state(hosts) == before
    # Control: a limit that keeps every host of both groups passes the check (in check mode, which changes nothing).
    rc, out, dummy = playbook(inventory, "--check", "--limit", "streamlit_master:streamlit_children", book=book)
    assert rc == 0, out[-3000:]
    assert "of the groups streamlit_master and streamlit_children; nothing changed" not in " ".join(out.split()), out[-3000:]


def inspect(child, container, fmt):
    return subprocess.run(["docker", "exec", child, "docker", "inspect", "-f", fmt, container],
                          capture_output=True, text=True, timeout=60, check=True).stdout.split()


def play_section(out, name):
    found = re.search(r"PLAY \[" + re.escape(name) + r"\].*?(?=\nPLAY \[)", out, re.S)
    return found.group(0) if found else ""


RUN_IN_PLACE = "Put the images on the children and run what replaces nothing"
REPLACE = "Replace the containers on the children, a batch at a time"


def rerun_after_update(inventory, hosts, flag, value, field):
    """`docker update FLAG VALUE` on the first app's container on the first child, then a rerun, which must pass
    and put FIELD back. Returns the child, the others, the container's id before, the output and the changes."""
    child = hosts["children"][0]
    container = f"streamlit-{hosts['apps'][0]['name']}"
    before, created = inspect(child, container, field), inspect(child, container, "{{.Id}} {{.State.StartedAt}}")
    # A run that failed after taking the lock (the input tests above) leaves it behind; the next run takes it
    # over and, rightly, reads the children again (the test after these). These runs are to find it free.
    subprocess.run(["docker", "exec", hosts["master"], "rm", "-f", LOCK], timeout=60, check=True)
    subprocess.run(["docker", "exec", child, "docker", "update", flag, value, container],
                   capture_output=True, timeout=60, check=True)
    # Control: the drift is there for the rerun to find.
    assert inspect(child, container, field) == [value]
    rc, out, changed = playbook(inventory, *at_once(hosts["children"]))
    assert rc == 0, out[-3000:]
    assert inspect(child, container, field) == before
    return child, hosts["children"][1:], created, inspect(child, container, "{{.Id}} {{.State.StartedAt}}"), out, changed


def test_a_rerun_puts_back_the_restart_policy_changed_by_hand_without_a_restart(inventory, hosts):
    """A rerun takes a child no further than its host read only where the read finds every container as the
    container step leaves it (the role's vars/main.yml): `docker update` on a running container must not be
    taken for that. The restart policy is one docker_container updates in place: no restart, no drain."""
    child, others, started, now, out, changed = rerun_after_update(
        inventory, hosts, "--restart", "no", "{{.HostConfig.RestartPolicy.Name}}")
    assert now == started, "the container was restarted or recreated"
    assert changed[child] >= 1 and changed[hosts["master"]] == 0 and all(changed[c] == 0 for c in others), changed
    # The children whose read found nothing to do went no further than the read: the play after it visits
    # only the drifted child (which also shows that this finds a child that is there), and nothing is replaced.
    visited = play_section(out, RUN_IN_PLACE)
    assert f"[{child}]" in visited, out[-3000:]
    assert not [c for c in others if f"[{c}]" in visited], visited[-3000:]
    assert f"[{child}]" not in play_section(out, REPLACE), out[-3000:]
    # The read before the run lock stood: no other run held or took the lock in between.
    assert out.count(HOST_READ) == 1, f"{out.count(HOST_READ)} host reads: {out[-3000:]}"


def test_a_rerun_replaces_a_container_whose_pids_limit_changed_by_hand_the_rolling_way(inventory, hosts):
    """docker_container cannot update a PIDs limit: it recreates the container. The host read cannot know which
    limits a version updates, so the preview asks, and the child goes through the rolling update: drained on
    the master, replaced, health-gated and re-admitted (a recreate without the drain broke pinned sessions and
    the smoke check)."""
    child, others, created, now, out, changed = rerun_after_update(
        inventory, hosts, "--pids-limit", "99", "{{.HostConfig.PidsLimit}}")
    assert now[0] != created[0], "the container was not recreated"
    # The read could not tell, so the service step in check mode did, for the drifted child alone.
    preview = task_output(out, PREVIEW_ASKS)
    assert re.search(r"included: \S+/service\.yml for .*\b" + re.escape(child) + r"\b", preview), preview or out[-3000:]
    replaced = play_section(out, REPLACE)
    assert f"[{child}]" in replaced, out[-3000:]
    assert not [c for c in others if f"[{c}]" in replaced], replaced[-3000:]
    # Drained and re-admitted (the drain's tasks are delegated to the master, so their changes count for the
    # child): the batch reports its rollout, and the master ends with no backend down.
    assert re.search(r"Rollout of " + re.escape(child) + r": [\d.]+ s from drain to re-admit", out), replaced[-3000:]
    assert all(changed[c] == 0 for c in others), changed
    config = subprocess.run(["docker", "exec", hosts["master"], "nginx", "-T"], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert " down;" not in config, config
    rc, out, changed = playbook(inventory, *at_once(hosts["children"]))
    assert rc == 0 and all(n == 0 for n in changed.values()), (changed, out[-3000:])


def test_a_changed_setting_goes_straight_to_the_rolling_update_and_back(inventory, hosts):
    """One env value of an app changed: each child's read names the container to replace, with nothing to put in
    place first, so no child visits the image and preview play; each is drained, replaced and re-admitted in turn
    (the default rolling batch of 1). The change back does the same, and a rerun then changes nothing. The
    control: a drift the read cannot judge (the PIDs limit test above) does visit that play. None of these
    runs prints a warning of Ansible's (a user reads each one as something to fix); the control is a
    playbook with the loop variable clash the site playbook once had, whose warning the same check finds."""
    apps = copy.deepcopy(hosts["apps"])
    apps[0].setdefault("env", {})["DEMO_GREETING"] = "changed for the rollout"
    subprocess.run(["docker", "exec", hosts["master"], "rm", "-f", LOCK], timeout=60, check=True)
    for given in (apps, hosts["apps"]):
        ids = {c: inspect(c, f"streamlit-{apps[0]['name']}", "{{.Id}}") for c in hosts["children"]}
        rc, out, changed = playbook(inventory, "-e", "streamlit_ops_drain_timeout=0", apps=given)
        assert rc == 0, out[-3000:]
        assert "skipping: no hosts matched" in play_section(out, RUN_IN_PLACE), play_section(out, RUN_IN_PLACE)[-3000:]
        for child in hosts["children"]:
            assert re.search(r"Rollout of " + re.escape(child) + r": [\d.]+ s from drain to re-admit", out), out[-3000:]
            assert inspect(child, f"streamlit-{apps[0]['name']}", "{{.Id}}") != ids[child], f"{child} kept its container"
        assert PREVIEW_ASKS not in out, task_output(out, PREVIEW_ASKS)
        assert not ANSIBLE_WARNING.findall(out), ANSIBLE_WARNING.findall(out)
    rc, out, changed = playbook(inventory)
    assert rc == 0 and all(n == 0 for n in changed.values()), (changed, out[-3000:])
    assert not ANSIBLE_WARNING.findall(out), ANSIBLE_WARNING.findall(out)
    rc, out, dummy = playbook(inventory, book="tests/e2e/default/playbooks/loop_var_clash.yml")
    assert rc == 0, out[-3000:]
    assert [w for w in ANSIBLE_WARNING.findall(out) if "'item'" in w], out[-3000:]


def test_a_run_that_finds_the_lock_held_reads_the_children_again_once_it_holds_it(inventory, hosts):
    """A child read while another run held the lock may have changed since: the run reads it again after its
    own take. The holder here is a run on another controller whose lease ended long ago, which the run takes
    over at once (the ha scenario's test_run_lock.py has a live holder that changes the children meanwhile)."""
    holder = {"controller": "elsewhere", "user": "root", "pid": 1, "started": "2026-01-01T00:00:00Z",
              "token": "elsewhere:1:1", "renewed": 0}
    subprocess.run(["docker", "exec", "-i", hosts["master"], "sh", "-c", f"cat > {LOCK}"], input=json.dumps(holder),
                   text=True, timeout=60, check=True)
    rc, out, changed = playbook(inventory, "-v", *at_once(hosts["children"]))
    assert rc == 0, out[-3000:]
    # Control: the run found that lock and took it over.
    assert "elsewhere:1:1" in out, out[-3000:]
    assert out.count(HOST_READ) == 2, f"{out.count(HOST_READ)} host reads: {out[-3000:]}"
    assert all(n == 0 for n in changed.values()), changed
    assert subprocess.run(["docker", "exec", hosts["master"], "test", "-e", LOCK], timeout=60, check=False).returncode != 0


def test_a_playbook_that_imports_the_site_twice_updates_a_child_settled_in_the_first_pass(inventory, hosts, tmp_path):
    """Which children go past the read is decided afresh in each pass (host facts, not groups that keep the first
    pass's members): a child with nothing to do in the first pass and drift before the second is put back. The
    drift is the restart policy alone, which docker_container in check mode (the preview) does not report: the
    host read must send the child through the real service step."""
    child, others = hosts["children"][0], hosts["children"][1:]
    container = f"streamlit-{hosts['apps'][0]['name']}"
    twice = tmp_path / "twice.yml"
    twice.write_text(json.dumps([
        {"name": "First pass", "ansible.builtin.import_playbook": str(ROOT / "site.yml")},
        {"name": "Drift between the passes", "hosts": child, "gather_facts": False, "tasks": [
            {"name": "Change the restart policy by hand", "ansible.builtin.command": f"docker update --restart no {container}",
             "changed_when": True}]},
        {"name": "Second pass", "ansible.builtin.import_playbook": str(ROOT / "site.yml")},
    ]))
    rc, out, dummy = playbook(inventory, *at_once(hosts["children"]), book=twice)
    assert rc == 0, out[-3000:]
    passes = re.findall(r"PLAY \[Put the images on the children and run what replaces nothing\].*?(?=\nPLAY \[)", out, re.S)
    assert len(passes) == 2, out[-3000:]
    # Control: the first pass had nothing to do on any child, so the second pass's visit is the drift's.
    assert "skipping: no hosts matched" in passes[0], passes[0]
    assert f"[{child}]" in passes[1] and not [c for c in others if f"[{c}]" in passes[1]], passes[1][-3000:]
    policy = subprocess.run(["docker", "exec", child, "docker", "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", container],
                            capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert policy == "unless-stopped"


@pytest.mark.last
def test_two_apps_swap_ports(inventory, hosts):
    """Used to fail partway: the first app's new port was still the second's.
    The child removes the containers whose port moves before it starts the new ones.
    It runs last (conftest.py) and leaves the ports swapped."""
    demo, others = hosts["apps"][0], hosts["apps"][1:]
    every_child = at_once(hosts["children"])
    # A port no other app of the scenario has; the other apps stay as they are.
    second = {**demo, "name": "second", "path": "/second/", "port": 8509}
    master = urlsplit(os.environ["STREAMLIT_OPS_APP_URL"]).netloc

    def published(child):
        out = subprocess.run(["docker", "exec", child, "docker", "ps", "--format", "{{.Names}} {{.Ports}}"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        ports = {line.split()[0]: re.findall(r":(\d+)->", line)[0] for line in out.splitlines() if "->" in line}
        return {name: port for name, port in ports.items() if name in ("streamlit-demo", "streamlit-second")}

    def healthy(path):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{master}{path}_stcore/health"],
                             capture_output=True, text=True, timeout=60, check=False).stdout
        return out == "200"

    rc, out, dummy = playbook(inventory, *every_child, apps=[demo, second, *others])
    assert rc == 0, out[-3000:]
    assert all(published(c) == {"streamlit-demo": "8501", "streamlit-second": "8509"} for c in hosts["children"])
    rc, out, dummy = playbook(inventory, *every_child, apps=[{**demo, "port": 8509}, {**second, "port": 8501}, *others])
    assert rc == 0, out[-3000:]
    assert all(published(c) == {"streamlit-demo": "8509", "streamlit-second": "8501"} for c in hosts["children"])
    assert healthy(demo.get("path") or f"/{demo['name']}/") and healthy("/second/")
    assert not healthy("/no-such-app/")  # control: the check can fail


def test_master_limits_fail_before_the_children_change(inventory, hosts):
    """An nginx_proxy setting the master cannot honour (an open-file limit above
    its hard limit) stops the run before the children change, even when the
    same run would also change every child's container."""
    apps = _bad(hosts["apps"], 0, env={"TEST_ROUND": "limits"})
    before = host_state(hosts)
    rc, out, dummy = playbook(inventory, "-e", "nginx_proxy_worker_rlimit_nofile=1000000", apps=apps)
    assert rc != 0, out[-3000:]
    assert "nginx_proxy_worker_rlimit_nofile 1000000 is above the hard open-file limit" in out, out[-3000:]
    assert host_state(hosts) == before
    # Control: the same apps without the bad limit do change the children.
    rc, out, changed = playbook(inventory, "--check", apps=apps)
    assert rc == 0, out[-3000:]
    assert all(changed[child] >= 1 for child in hosts["children"]), changed


def test_smoke_check_passes_through_the_proxy_and_fails_through_a_naive_one(inventory, hosts):
    """The role's post-deploy WebSocket check: 101 through the deployed server;
    through the master's naive proxy_pass site (the original bug) it fails and
    names the app."""
    # The apps the smoke check can enter (the ones behind auth it checks for their refusal: test_access.py).
    apps = [{"name": a["name"], "path": a.get("path") or f"/{a['name']}/", "backends": []} for a in hosts["apps"] if not a.get("auth") and not a.get("allow")]
    naive_port = urlsplit(os.environ["STREAMLIT_OPS_BROKEN_URL"]).port

    def smoke(port):
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "tests/e2e/default/playbooks/smoke_check.yml", "-i", inventory,
               "-e", json.dumps({"nginx_proxy_apps": apps, "nginx_proxy_listen_port": port})]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env, check=False)
        return result.returncode, result.stdout + result.stderr

    rc, out = smoke(80)
    assert rc == 0, out[-3000:]
    rc, out = smoke(naive_port)
    assert rc != 0, out[-3000:]
    assert f"smoke check through Nginx failed for {apps[0]['name']}" in out, out[-3000:]
    # The doctor names the failing check, what it saw and the setting that fixes it.
    assert "websocket failed:" in out and "answered 200" in out, out[-3000:]
    assert "proxy_http_version 1.1" in out, out[-3000:]

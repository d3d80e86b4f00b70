"""The nginx_proxy role's rules for access control and the edge in front
(plugin_utils/nginx_proxy_rules.py): each refuses what Nginx would misread or
what would lock everyone out, names the field and the fix, and never echoes
a value that may be a password. The resolved apps the templates read hold no
password hash (Ansible prints whole loop items with -v)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.streamlit_ops.deploy.plugins.filter.nginx_proxy import nginx_proxy_apps, nginx_proxy_htpasswd
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import nginx_proxy_rules as rules
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import specs

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "nginx_proxy"
HASHES = {
    "apr1": "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/",
    "bcrypt": "$2b$12$spqLrEoBGmOQtqNqUR2VG.jKf1IolWRtNYdU70aRNSSsd3miB4EQy",
    "sha256": "$5$NFM5cnlamGfXbe9y$zJjgoff.Y2RkGuADz/5xCHhT12RI/9DtRnEuCn0IQtA",
    "sha512": "$6$bxqdpjeQf5wwQVsK$SS6NUvLoFOmeN1JbWgBbmosza8ZPlkESZsoGi0r9dHiGIsX2dXYxKiq0FvHAzHLsbkgtSoP358v0ao3SScAAW0",
    "yescrypt": "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0",
    "sha": "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
    "ssha": "{SSHA}UEzfgFDUrnM55rPLsXAhPZU6gAxQLp9H",
}
HOST = {"nginx": {"cpus": 2, "nofile_soft": 1024, "nofile_hard": 1 << 20, "nofile_source": "test", "codename": "bookworm"}}


def problems(apps: list[dict], **settings) -> list[str]:
    """Every problem of the settings, as the role's validate step finds them (nginx.conf left alone)."""
    given = {"nginx_proxy_apps": apps, "nginx_proxy_manage_main_config": False, **settings}
    values, spec_problems = specs.check(specs.role_options("nginx_proxy"), given)
    assert spec_problems == []
    return rules.settings_errors(values, HOST, {})


def app(**fields) -> dict:
    return {"name": "finance", "path": "/finance/", "backends": ["10.0.0.11:8501"], **fields}


APP_FIELDS = ("name", "path", "clear_headers", "allow")


def with_auth(auth: dict, fields: dict) -> dict:
    """An app with auth; fields go to the app or, the rest, to its auth."""
    own = {key: value for key, value in fields.items() if key in APP_FIELDS}
    return app(auth={**auth, **{key: value for key, value in fields.items() if key not in APP_FIELDS}}, **own)


def basic(*users: tuple[str, str], **fields) -> dict:
    return with_auth({"type": "basic", "users": [{"name": name, "password_hash": value} for name, value in users]}, fields)


def forward(**fields) -> dict:
    return with_auth({"type": "forward", "url": "http://127.0.0.1:4180/oauth2/auth", "signin_url": "https://auth.example.com/oauth2/start"}, fields)


# --- basic ---------------------------------------------------------------------------------------


def test_every_hash_nginx_reads_is_accepted():
    assert problems([basic(*((f"user-{kind}", value) for kind, value in HASHES.items()))]) == []


@pytest.mark.parametrize("secret", ["hunter2", "correct horse battery staple", "$6$short", "$1$abcdefgh$J0u8Hf8HW1aXlZ.oCAJIE.",
                                    "{PLAIN}hunter2", HASHES["sha512"] + "\nmallory:x", HASHES["apr1"] + "\n", ""])
def test_a_plain_password_is_refused_and_never_shown(secret):
    (problem,) = problems([basic(("alice", secret))])
    assert problem.startswith("nginx_proxy_apps[0].auth.users[0].password_hash: is not a password hash (a plain password?)")
    assert "openssl passwd -6" in problem and "password_hash('sha512')" in problem
    assert secret.split("\n")[0] not in problem or not secret


def test_basic_needs_users_with_unique_names_an_htpasswd_line_can_hold():
    (problem,) = problems([app(auth={"type": "basic"})])
    assert problem.startswith("nginx_proxy_apps[0].auth.users: is empty") and "list at least one user" in problem
    assert problems([app(auth={"type": "basic", "users": []})]) == [problem]
    found = problems([basic(("alice", HASHES["apr1"]), ("alice", HASHES["sha512"]), ("bob:x", HASHES["apr1"]), ("carol smith", HASHES["apr1"]))])
    assert found == [
        "nginx_proxy_apps[0].auth.users[1].name: 'alice' is already used by nginx_proxy_apps[0].auth.users[0]; give each user their own name",
        "nginx_proxy_apps[0].auth.users[2].name: 'bob:x' holds ':' or a space, which an htpasswd line cannot: use e.g. 'bob-x'",
        "nginx_proxy_apps[0].auth.users[3].name: 'carol smith' holds ':' or a space, which an htpasswd line cannot: use e.g. 'carol-smith'",
    ]


def test_basic_realm_and_forward_fields():
    found = problems([basic(("alice", HASHES["apr1"]), realm='Fin"ance', url="http://127.0.0.1/auth")])
    assert [line.split(":", 1)[0] for line in found] == ["nginx_proxy_apps[0].auth.url", "nginx_proxy_apps[0].auth.realm"]
    assert "is for type forward only; remove it, or set nginx_proxy_apps[0].auth.type to forward" in found[0]
    assert "without quotes, backslashes, '$'" in found[1]
    assert problems([basic(("alice", HASHES["apr1"]), realm="Finance team")]) == []


def test_the_spec_never_shows_a_password_hash():
    users = specs.role_options("nginx_proxy")["nginx_proxy_apps"]["options"]["auth"]["options"]["users"]["options"]
    assert users["password_hash"]["no_log"] is True


# --- forward -------------------------------------------------------------------------------------


def test_forward_defaults_to_the_oauth2_proxy_headers():
    assert problems([forward()]) == []
    (resolved,) = nginx_proxy_apps([forward()])
    assert [h["name"] for h in resolved["auth"]["headers"]] == ["X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-User"]
    assert resolved["auth"]["signin"] == "https://auth.example.com/oauth2/start?rd="
    (resolved,) = nginx_proxy_apps([forward(signin_url="https://auth.example.com/start?client=apps")])
    assert resolved["auth"]["signin"] == "https://auth.example.com/start?client=apps&rd="


@pytest.mark.parametrize(("field", "value"), [
    ("url", "127.0.0.1:4180/oauth2/auth"),
    ("url", "http://127.0.0.1:4180"),
    ("url", "http://127.0.0.1:4180/auth?x=1"),
    ("url", "http://127.0.0.1:99999/auth"),
    ("url", "ftp://127.0.0.1/auth"),
    ("url", "http://127.0.0.1/$host"),
    ("signin_url", "https://auth.example.com/start;return 200"),
    ("signin_url", "https://auth.example.com/start?a={b}"),
    ("signin_url", "https://auth.example.com/start#frag"),
    ("signin_url", "https://auth.example.com/st art"),
    ("signin_url", "https://auth.example.com/\"start"),
    ("signin_url", "/oauth2/start"),
])
def test_forward_urls_nginx_would_misread_are_refused(field, value):
    (problem,) = problems([forward(**{field: value})])
    assert problem.startswith(f"nginx_proxy_apps[0].auth.{field}: {value!r} is not")
    assert "write e.g. http" in problem


def test_forward_needs_both_urls_and_no_users():
    found = problems([app(auth={"type": "forward", "users": [{"name": "alice", "password_hash": HASHES["apr1"]}]})])
    assert [line.split(":", 1)[0] for line in found] == [
        "nginx_proxy_apps[0].auth.users", "nginx_proxy_apps[0].auth.url", "nginx_proxy_apps[0].auth.signin_url"]
    assert "is required for type forward" in found[1] and "e.g. https://auth.example.com/oauth2/start" in found[2]


def test_identity_headers_are_header_names_the_proxy_does_not_set():
    found = problems([forward(identity_headers={"X-User": "user", "X User": "name", "X-Forwarded-For": "ip", "x-user": "email"})])
    assert found == [
        "nginx_proxy_apps[0].auth.identity_headers['X User']: 'X User' is not a header name: use letters, digits and '-', e.g. X-Auth-Request-User",
        "nginx_proxy_apps[0].auth.identity_headers['X-Forwarded-For']: 'X-Forwarded-For' is set by the proxy itself (host, upgrade, connection, "
        "x-real-ip, x-forwarded-for, x-forwarded-proto) and cannot carry an identity: use the header the endpoint answers with, e.g. X-Auth-Request-User",
        "nginx_proxy_apps[0].auth.identity_headers['x-user']: 'x-user' names the same header as 'X-User' (header names ignore case); keep one",
    ]


def test_forward_auth_headers_leave_the_cleared_ones():
    (resolved,) = nginx_proxy_apps([forward(clear_headers=["x-auth-request-user", "X-Team"], identity_headers={"X-Auth-Request-User": "user"})])
    assert resolved["clear_headers"] == ["X-Team"]
    assert [(h["name"], h["upstream"]) for h in resolved["auth"]["headers"]] == [("X-Auth-Request-User", "$upstream_http_x_auth_request_user")]
    # Nginx refuses variable names longer than its hash bucket, whatever the app's name.
    (resolved,) = nginx_proxy_apps([forward(name="a" * 63)])
    assert max(len(h["var"]) for h in resolved["auth"]["headers"]) < 40


# --- allow and the edge --------------------------------------------------------------------------


def test_allow_takes_addresses_and_networks():
    assert problems([app(allow=["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"])]) == []
    found = problems([app(allow=[]), app(name="other", path="/other/", allow=["10.0.0.1/8", "10.0.0.0/33", "intranet", "all"])])
    assert found == [
        "nginx_proxy_apps[0].allow: is empty, which would refuse every client: list client networks, e.g. [10.0.0.0/8], or omit allow to let everyone in",
        "nginx_proxy_apps[1].allow[0]: '10.0.0.1/8' has bits set below its prefix length, which Nginx ignores: write the network, 10.0.0.0/8",
        *(f"nginx_proxy_apps[1].allow[{j}]: {value!r} is not an IPv4 or IPv6 address or CIDR network: write e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"
          for j, value in ((1, "10.0.0.0/33"), (2, "intranet"), (3, "all"))),
    ]


def test_trusted_proxies_and_the_edge_timeout():
    assert problems([app()], nginx_proxy_trusted_proxies=["10.0.0.0/8", "fd00::/8"], nginx_proxy_edge_idle_timeout=60) == []
    found = problems([app()], nginx_proxy_trusted_proxies=["10.0.0.0/8", "lb.example.com"], nginx_proxy_edge_idle_timeout=0)
    assert found[0].startswith("nginx_proxy_trusted_proxies[1]: 'lb.example.com' is not an IPv4 or IPv6 address")
    assert found[0].endswith("list the addresses of the load balancers in front of this master")
    assert found[1].startswith("nginx_proxy_edge_idle_timeout 0 must be the idle timeout in seconds")


def test_the_smoke_check_only_proves_access_where_it_cannot_log_in():
    resolved = nginx_proxy_apps([
        app(name="open"),
        app(name="local", path="/local/", allow=["127.0.0.0/8", "10.0.0.0/8"]),
        app(name="remote", path="/remote/", allow=["10.0.0.0/8", "::1"]),
        basic(("alice", HASHES["apr1"]), name="basic", path="/basic/"),
        forward(name="forward", path="/forward/"),
    ])
    assert {a["name"]: a["access_only"] for a in resolved} == {"open": False, "local": False, "remote": True, "basic": True, "forward": True}


def test_no_hash_in_the_apps_the_templates_loop_over():
    apps = [basic(("alice", HASHES["sha512"]), ("bob", HASHES["apr1"]))]
    assert HASHES["sha512"] not in json.dumps(nginx_proxy_apps(apps))
    assert nginx_proxy_htpasswd(apps) == {"finance": f"alice:{HASHES['sha512']}\nbob:{HASHES['apr1']}\n"}


# --- the role's tasks ----------------------------------------------------------------------------


def _tasks(path: str, names: list[str]) -> list[dict]:
    """The named tasks of a task file of the role, wherever they sit in its blocks."""
    found = {}

    def walk(tasks):
        for task in tasks:
            for key in ("block", "rescue", "always"):
                walk(task.get(key, []))
            if task.get("name") in names:
                found[task["name"]] = task

    walk(yaml.safe_load((ROLE / path).read_text()))
    return [found[name] for name in names]


HTPASSWD_TASKS = _tasks("tasks/facts.yml", ["facts | Read Nginx and the files this role manages", "facts | Find the htpasswd files this role wrote"]) + _tasks(
    "tasks/configure.yml", [
        "configure | Create the directory of the htpasswd files",
        "configure | Write the htpasswd file of each app with basic auth",
        "configure | Keep a copy of the htpasswd files of apps that are gone",
        "configure | Remove the htpasswd files of apps that are gone",
    ])


def _converge(tmp_path: Path, apps: list[dict], *flags: str) -> subprocess.CompletedProcess:
    """The role's htpasswd tasks as they are in facts.yml and configure.yml, on a directory under tmp."""
    facts = dict(HTPASSWD_TASKS[0])
    # Only the paths; the Nginx facts are not needed here.
    facts["streamlit_ops.deploy.host_info"] = {"paths": "{{ [__nginx_proxy_auth_dir] + __nginx_proxy_htpasswd_files }}"}
    play = [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROLE / "vars" / "main.yml")],
        "tasks": [facts, *HTPASSWD_TASKS[1:]],
    }]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    # Extra vars: above vars/main.yml, so nothing lands in this machine's /etc/nginx.
    (tmp_path / "extra.json").write_text(json.dumps({"nginx_proxy_apps": apps, "__nginx_proxy_auth_dir": str(tmp_path / "auth")}))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'extra.json'}",
         *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_PYTHON_INTERPRETER": sys.executable},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _changed(result: subprocess.CompletedProcess) -> int:
    return int(result.stdout.rsplit("changed=", 1)[1].split()[0])


def test_htpasswd_files_are_0640_for_the_workers_idempotent_and_never_shown(tmp_path):
    import grp

    apps = [basic(("alice", HASHES["sha512"])), basic(("bob", HASHES["apr1"]), name="sales", path="/sales/")]
    path = tmp_path / "auth" / "finance.htpasswd"
    # --check --diff on a master that never had one: nothing written, no hash shown.
    result = _converge(tmp_path, apps, "--check", "--diff", "-vvv")
    assert _changed(result) > 0 and not path.exists()
    assert f"{tmp_path}/auth/finance.htpasswd" in result.stdout
    assert HASHES["sha512"] not in result.stdout + result.stderr
    result = _converge(tmp_path, apps, "--diff", "-vvv")
    assert HASHES["sha512"] not in result.stdout + result.stderr
    assert path.read_text() == f"alice:{HASHES['sha512']}\n"
    mode, owner, group = path.stat().st_mode & 0o7777, path.stat().st_uid, grp.getgrgid(path.stat().st_gid).gr_name
    assert (oct(mode), owner, group) == ("0o640", 0, "www-data")
    assert _changed(_converge(tmp_path, apps)) == 0
    assert _changed(_converge(tmp_path, apps, "--check", "--diff")) == 0
    # A file made readable by others is put back to 0640.
    path.chmod(0o644)
    assert _changed(_converge(tmp_path, apps)) == 1 and path.stat().st_mode & 0o7777 == 0o640
    # A changed hash in check mode: reported, not shown, not written.
    changed = [basic(("alice", HASHES["sha256"])), apps[1]]
    result = _converge(tmp_path, changed, "--check", "--diff", "-v")
    assert _changed(result) == 1 and HASHES["sha256"] not in result.stdout and path.read_text() == f"alice:{HASHES['sha512']}\n"
    # An app that is gone takes its file along, and a copy is kept for the
    # rollback (configure's always step removes it once the record has it).
    result = _converge(tmp_path, apps[1:])
    assert not path.exists() and (tmp_path / "auth" / "sales.htpasswd").exists()
    (kept,) = [p for p in (tmp_path / "auth").iterdir() if p.name.startswith("finance.htpasswd.")]
    assert kept.read_text() == f"alice:{HASHES['sha512']}\n" and kept.name.endswith("~")
    assert _changed(_converge(tmp_path, apps[1:])) == 0

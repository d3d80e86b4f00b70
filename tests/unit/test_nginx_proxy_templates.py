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
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import crossplane
import pytest
import yaml

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
RENDER_CPUS = yaml.safe_load((FIXTURES / "render.yml").read_text())[0]["vars"]["__nginx_proxy_cpus"]
MANAGED = [name for name in GOOD if {**DEFAULTS, **SHAPES[name]["vars"]}["nginx_proxy_manage_main_config"]]
UNMANAGED = [name for name in GOOD if name not in MANAGED]
STOCK_MAIN = Path("/etc/nginx/nginx.conf")
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
    assert len(maps) == 1
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
    for app, upstream in zip(apps, upstreams):
        servers = _named(upstream["block"], "server")
        assert [d["args"] for d in servers] == [
            [backend, "max_fails=1", "fail_timeout=10s"] for backend in app["backends"]
        ]
        # A pool of idle connections for plain HTTP requests, or none at all.
        others = [(d["directive"], d["args"]) for d in upstream["block"] if d["directive"] != "server"]
        assert others == ([("keepalive", [str(keepalive)])] if keepalive else [])


# --- snippet: the app locations ------------------------------------------------------------------


@pytest.mark.parametrize("shape", GOOD)
def test_only_locations_in_snippet_in_order(rendered, shape):
    apps = _app_vars(shape)["nginx_proxy_apps"]
    parsed = _parse(rendered / shape / SNIPPET)
    assert [d["directive"] for d in parsed] == ["location"] * len(apps)
    assert [d["args"] for d in parsed] == [[app["path"]] for app in apps]


@pytest.mark.parametrize("shape", GOOD)
def test_location_proxies_websockets(rendered, shape):
    values = _app_vars(shape)
    timeout = f"{values['nginx_proxy_websocket_timeout']}s"
    for app, location in zip(values["nginx_proxy_apps"], _parse(rendered / shape / SNIPPET)):
        block = location["block"]
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
            "X-Forwarded-Proto": ["$scheme"],
        }
        assert _one(block, "proxy_connect_timeout") == [f"{values['nginx_proxy_connect_timeout']}s"]
        assert _one(block, "proxy_read_timeout") == [timeout]
        assert _one(block, "proxy_send_timeout") == [timeout]
        assert _one(block, "proxy_next_upstream") == ["error", "timeout", "http_502", "http_503", "http_504"]
        assert _one(block, "proxy_next_upstream_tries") == [str(ROLE_VARS["__nginx_proxy_next_upstream_tries"])]
        assert _one(block, "access_log") == [ACCESS_LOG, "streamlit_ops_deploy"]
        assert not _named(block, "proxy_buffering")


@pytest.mark.parametrize("shape", GOOD)
def test_gzip_in_the_app_locations_only(rendered, shape):
    values = _app_vars(shape)
    for location in _parse(rendered / shape / SNIPPET):
        gzip = {d["directive"]: d["args"] for d in location["block"] if d["directive"].startswith("gzip")}
        if not values["nginx_proxy_gzip"]:
            assert gzip == {}
            continue
        assert set(gzip) == {"gzip", "gzip_types", "gzip_proxied", "gzip_vary", "gzip_min_length", "gzip_comp_level"}
        assert gzip["gzip"] == ["on"]
        # What Streamlit 1.67 sends for its bundle, CSS, manifest and host-config.
        assert {"application/javascript", "text/css", "application/json"} <= set(gzip["gzip_types"])
        assert gzip["gzip_proxied"] == ["any"]
        assert gzip["gzip_vary"] == ["on"]
        assert gzip["gzip_min_length"] == [str(ROLE_VARS["__nginx_proxy_gzip_min_length"])]
        assert gzip["gzip_comp_level"] == [str(values["nginx_proxy_gzip_comp_level"])]
    # Not at http level, where Debian's nginx.conf already says "gzip on".
    assert not [d for d in _parse(rendered / shape / CONF) if d["directive"].startswith("gzip")]


# --- site ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", GOOD)
def test_site_listens_and_includes_the_snippet(rendered, shape):
    values = _app_vars(shape)
    parsed = _parse(rendered / shape / SITE)
    assert [d["directive"] for d in parsed] == ["server"]
    block = parsed[0]["block"]
    listen = [str(values["nginx_proxy_listen_port"])]
    if values["nginx_proxy_default_server"]:
        listen.append("default_server")
    if values["nginx_proxy_reuseport"]:
        listen.append("reuseport")
    assert _one(block, "listen") == listen
    assert _one(block, "server_name") == values["nginx_proxy_server_name"].split()
    assert _one(block, "include") == [SNIPPET_DEST]


@pytest.mark.parametrize("shape", GOOD)
@pytest.mark.parametrize("name", [MAIN, CONF, SNIPPET, SITE])
def test_managed_header_without_timestamp(rendered, shape, name):
    if name == MAIN and shape not in MANAGED:
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
        connections = math.ceil(2 * values["nginx_proxy_expected_sessions"] * 1.1 / spread) + 1024
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

    def strip(block: list[dict]) -> list:
        return [
            (d["directive"], [] if d["directive"] in ("worker_processes", "worker_connections") else d["args"], strip(d.get("block", [])))
            for d in block
            if d["directive"] != "worker_rlimit_nofile"
        ]

    assert strip(ours) == strip(stock)
    (http,) = _named(ours, "http")
    includes = [d["args"] for d in http["block"] if d["directive"] == "include"]
    assert includes == [["/etc/nginx/mime.types"], ["/etc/nginx/conf.d/*.conf"], ["/etc/nginx/sites-enabled/*"]]
    assert _one(ours, "include") == ["/etc/nginx/modules-enabled/*.conf"]


def test_stock_copies_are_debians():
    for release, path in STOCK_BY_RELEASE.items():
        assert hashlib.md5(path.read_bytes()).hexdigest() == STOCK_MD5[release], release
    assert ROLE_VARS["__nginx_proxy_main_config_releases"] == list(STOCK_BY_RELEASE)


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


def _nginx_t(rendered: Path, shape: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on the rendered files inside a throwaway http {}.

    The rendered files are used as they are, except for two host paths that a
    test must not touch: the snippet include is pointed at the rendered
    snippet, and the access log goes to tmp (nginx -t opens log files).
    """
    src = rendered / shape
    for name in (CONF, SNIPPET, SITE):
        text = (src / name).read_text()
        if name == SITE:
            assert text.count(SNIPPET_DEST) == 1
            text = text.replace(SNIPPET_DEST, str(tmp_path / SNIPPET))
        if name == SNIPPET:
            assert text.count(ACCESS_LOG) == len(_app_vars(shape)["nginx_proxy_apps"])
            text = text.replace(ACCESS_LOG, str(tmp_path / "access.log"))
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'error.log'};\n"
        "events {}\n"
        "http {\n"
        f"{temp_paths}\n"
        f"    access_log {tmp_path / 'default.access.log'};\n"
        f"    include {tmp_path / CONF};\n"
        f"    include {tmp_path / SITE};\n"
        "}\n"
    )
    return subprocess.run(
        [_nginx(), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("shape", GOOD)
def test_nginx_accepts_good_shapes(rendered, shape, tmp_path):
    result = _nginx_t(rendered, shape, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize("shape", BAD)
def test_nginx_rejects_duplicate_location(rendered, shape, tmp_path):
    result = _nginx_t(rendered, shape, tmp_path)
    assert result.returncode != 0
    assert 'duplicate location "/same/"' in result.stderr


OTHER_SITE = """server {
    listen 8081;
    server_name other.example.test;
    location / { return 204; }
}
"""


def _nginx_tree(rendered: Path, shape: str, tmp_path: Path, other_site: str = OTHER_SITE) -> list[str]:
    """A copy of Debian's /etc/nginx under tmp with the rendered files in place,
    the site link, and another site someone else enabled.

    Host paths are moved into tmp: /etc/nginx, /var/log/nginx and the pid file.
    Returns the nginx argv for that tree, without -t or -T.
    """
    etc = tmp_path / "etc" / "nginx"
    shutil.copytree("/etc/nginx", etc, symlinks=True)
    for name in (MAIN, CONF, SNIPPET, SITE):
        text = (rendered / shape / name).read_text()
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
def test_nginx_loads_the_tuned_main_config_with_every_site(rendered, shape, tmp_path):
    _stock_main()
    argv = _nginx_tree(rendered, shape, tmp_path)
    result = _run([*argv, "-t"])
    assert result.returncode == 0, result.stderr
    dump = _run([*argv, "-T"]).stdout
    # Our files and the other site are all loaded through nginx.conf's includes.
    for name in (CONF, "sites-enabled/streamlit_ops_deploy", SNIPPET, "sites-enabled/other", "mime.types"):
        assert f"# configuration file {tmp_path}/etc/nginx/{name}:" in dump, name
    assert "server_name other.example.test;" in dump


@pytest.mark.parametrize("shape", [name for name in MANAGED if _app_vars(name)["nginx_proxy_reuseport"]])
def test_nginx_refuses_a_second_reuseport_on_the_port(rendered, shape, tmp_path):
    """Why nginx_proxy_reuseport can be turned off: another server block that
    sets reuseport on the same port fails nginx -t (and the role rolls back)."""
    _stock_main()
    port = _app_vars(shape)["nginx_proxy_listen_port"]
    other = OTHER_SITE.replace("listen 8081;", f"listen {port} reuseport;")
    result = _run([*_nginx_tree(rendered, shape, tmp_path, other), "-t"])
    assert result.returncode != 0
    assert f"duplicate listen options for 0.0.0.0:{port}" in result.stderr


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
            "nginx_proxy_websocket_timeout": 30,
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
        "nginx_proxy_websocket_timeout",
    ]
    by_field = dict(zip(fields, problems))
    assert "already used by nginx_proxy_apps[0]" in by_field["nginx_proxy_apps[1].name"]
    assert "use e.g. '/app/'" in by_field["nginx_proxy_apps[1].path"]
    assert "already used by nginx_proxy_apps[0]" in by_field["nginx_proxy_apps[2].path"]


def test_validate_accepts_every_good_shape(tmp_path, fake_master):
    host = {**fake_master(20000), **_main_config(tmp_path)}
    for shape in GOOD:
        result = _run_validate(tmp_path, {**SHAPES[shape]["vars"], **host})
        assert result.returncode == 0, result.stdout


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
    assert {name: (opt["type"], opt["required"]) for name, opt in apps["options"].items()} == {
        "name": ("str", True),
        "path": ("str", True),
        "backends": ("list", True),
    }
    assert all(name.startswith("__nginx_proxy_") for name in ROLE_VARS)


def test_main_validates_before_anything_else():
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    steps = [(t["ansible.builtin.include_tasks"]["file"], t["tags"]) for t in tasks]
    # configure relies on what validate reads, so --tags nginx_proxy_configure runs it too.
    assert steps == [
        ("validate.yml", ["nginx_proxy_validate", "nginx_proxy_configure"]),
        ("install.yml", "nginx_proxy_install"),
        ("configure.yml", "nginx_proxy_configure"),
        ("service.yml", "nginx_proxy_service"),
    ]
    assert tasks[0]["ansible.builtin.include_tasks"]["apply"]["tags"] == tasks[0]["tags"]

# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The nginx_proxy role's templates, its validate step and its interface.

The templates are rendered by the real ansible.builtin.template module
(tests/unit/nginx/render.yml, one ansible-playbook run per session), parsed
with crossplane and asserted on as structure, then checked by the real
`nginx -t`. A shape that bypasses validation must fail `nginx -t`, so that
check is shown to be able to fail.
"""

from __future__ import annotations

import json
import os
import re
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

CONF = "conf.d/streamlit_ops_deploy.conf"
SNIPPET = "snippets/streamlit_ops_deploy.conf"
SITE = "sites-available/streamlit_ops_deploy"
SNIPPET_DEST = ROLE_VARS["__nginx_proxy_snippet_file"]
ACCESS_LOG = ROLE_VARS["__nginx_proxy_access_log"]

GOOD = [name for name, shape in SHAPES.items() if shape["nginx_t"] == "pass"]
BAD = [name for name, shape in SHAPES.items() if shape["nginx_t"] == "fail"]


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
    assert {d["directive"]: d["args"] for d in maps[0]["block"]} == {"default": ["upgrade"], "": ["close"]}


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
    for app, upstream in zip(apps, upstreams):
        assert [d["directive"] for d in upstream["block"]] == ["server"] * len(app["backends"])
        assert [d["args"] for d in upstream["block"]] == [
            [backend, "max_fails=1", "fail_timeout=10s"] for backend in app["backends"]
        ]


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
    assert _one(block, "listen") == listen
    assert _one(block, "server_name") == values["nginx_proxy_server_name"].split()
    assert _one(block, "include") == [SNIPPET_DEST]


@pytest.mark.parametrize("shape", GOOD)
@pytest.mark.parametrize("name", [CONF, SNIPPET, SITE])
def test_managed_header_without_timestamp(rendered, shape, name):
    text = (rendered / shape / name).read_text()
    head = text.splitlines()[:3]
    assert head[0].startswith("#") and any("Ansible managed" in line for line in head), head
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}", text)


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


# --- the role's validate step -------------------------------------------------------------------------


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
    fields = [line.split(" ", 2)[1] for line in problems]
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


def test_validate_accepts_every_good_shape(tmp_path):
    for shape in GOOD:
        result = _run_validate(tmp_path, SHAPES[shape]["vars"])
        assert result.returncode == 0, result.stdout


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
    assert steps == [(f"{step}.yml", f"nginx_proxy_{step}") for step in ("validate", "install", "configure", "service")]

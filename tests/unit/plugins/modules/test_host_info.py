"""host_info against files and command answers made for the test: what each
role decides on is read right, and a missing thing reads as missing."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from ansible_collections.streamlit_ops.deploy.plugins.modules import host_info

DPKG = (
    "docker.io ii \n"
    "python3-apt un \n"
)
CONFFILES = " /etc/nginx/nginx.conf e5398edc0b51497dba606859fb13a86e\n /etc/nginx/mime.types 0123\n"
ROUTE = "8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.21 uid 0 \\    cache\n"
ADDRS = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
         "2: eth0    inet 10.0.0.21/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever\n"
         "3: eth1    inet 192.168.5.4/24 scope global eth1\\       valid_lft forever\n")


class FakeModule:
    """Answers the commands host_info runs; records them."""

    def __init__(self, answers: dict):
        self.answers = answers
        self.ran = []

    def run_command(self, argv):
        self.ran.append(argv)
        key = os.path.basename(argv[0])
        if key == "nginx":
            key = "nginx " + argv[1]
        return self.answers.get(key, (1, "", "not found"))

    def get_bin_path(self, name):
        return f"/usr/sbin/{name}" if name in self.answers else None

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


def test_packages_come_from_dpkg_and_unknown_ones_read_as_missing():
    module = FakeModule({"dpkg-query": (1, DPKG, "dpkg-query: no packages found matching docker-ce")})
    assert host_info.installed_packages(module, ["docker.io", "python3-apt", "docker-ce"]) == {
        "docker.io": True, "python3-apt": False, "docker-ce": False}
    # Control: a dpkg-query that breaks is an error, not "nothing installed".
    with pytest.raises(AssertionError):
        host_info.installed_packages(FakeModule({"dpkg-query": (2, "", "database locked")}), ["docker.io"])


def test_paths_report_kind_link_target_and_checksums(tmp_path):
    target = tmp_path / "file"
    target.write_text("content\n")
    (tmp_path / "link").symlink_to(target)
    info = host_info.path_info(str(target))
    assert (info["exists"], info["isreg"], info["islnk"]) == (True, True, False)
    assert info["checksum"] == hashlib.sha1(b"content\n").hexdigest()
    assert info["md5"] == hashlib.md5(b"content\n").hexdigest()
    link = host_info.path_info(str(tmp_path / "link"))
    assert (link["islnk"], link["lnk_target"]) == (True, str(target))
    assert host_info.path_info(str(tmp_path / "missing"))["exists"] is False
    assert host_info.path_info(str(tmp_path))["isdir"] is True


def test_addresses_are_the_default_routes_source_and_every_ipv4_but_loopback():
    module = FakeModule({"ip": (0, "", "")})
    answers = iter([(0, ROUTE, ""), (0, ADDRS, "")])
    module.run_command = lambda argv: next(answers)
    assert host_info.addresses(module) == {"default_ipv4": "10.0.0.21", "all_ipv4": ["10.0.0.21", "192.168.5.4"]}
    # Control: no default route leaves the default address empty.
    answers = iter([(2, "", "RTNETLINK answers: Network is unreachable"), (0, ADDRS, "")])
    assert host_info.addresses(module)["default_ipv4"] == ""


def test_nginx_facts_read_the_master_its_limits_and_who_owns_nginx_conf(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = tmp_path / "nginx.pid"
        pid_file.write_text(f"{sleeper.pid}\n")
        main = tmp_path / "nginx.conf"
        main.write_text("# Written by the role\nuser www-data;\n")
        os_release = tmp_path / "os-release"
        os_release.write_text('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_CODENAME=trixie\n')
        module = FakeModule({"dpkg-query": (0, CONFFILES, ""), "nginx -v": (0, "", "nginx version: nginx/1.26.3\n")})
        params = {"nginx_pid_file": str(pid_file), "nginx_main_config": str(main), "os_release": str(os_release),
                  "nginx_marker": "Written by the role", "nginx_configured": False}
        facts = host_info.nginx_facts(module, params)
        assert (facts["running"], facts["pid"], facts["codename"]) == (True, sleeper.pid, "trixie")
        assert facts["nofile_source"] == f"the Nginx master (/proc/{sleeper.pid}/limits)"
        assert facts["stock_md5"] == "e5398edc0b51497dba606859fb13a86e"
        assert facts["main_config_md5"] == hashlib.md5(main.read_bytes()).hexdigest() and facts["main_config_marker"]
        assert facts["cpus"] == len(os.sched_getaffinity(0))
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)
    # Control: once the master is gone, PID 1's limits stand in and say so.
    facts = host_info.nginx_facts(module, dict(params, nginx_marker="not there"))
    assert facts["running"] is False and facts["nofile_source"].startswith("PID 1")
    assert facts["main_config_marker"] is False


def test_configured_workers_come_from_nginx_t():
    dump = "# configuration file /etc/nginx/nginx.conf:\nworker_processes auto;\nevents {\n\tworker_connections 768;\n}\n"
    module = FakeModule({"nginx -T": (0, dump, "")})
    if not os.path.exists(host_info.NGINX_BINARY):
        pytest.skip("no nginx binary here")
    assert host_info.configured_workers(module) == {"worker_processes": "auto", "worker_connections": 768, "worker_rlimit_nofile": None}
    assert host_info.configured_workers(FakeModule({"nginx -T": (1, "", "emerg")})) is None


def test_loaded_modules_and_the_modules_enabled_include_come_from_nginx_t():
    dump = ("# configuration file /etc/nginx/nginx.conf:\nuser www-data;\ninclude /etc/nginx/modules-enabled/*.conf;\n"
            "# configuration file /etc/nginx/modules-enabled/50-mod-http-brotli-filter.conf:\n"
            "load_module modules/ngx_http_brotli_filter_module.so;\n"
            "# load_module modules/ngx_stream_module.so;\n")
    module = FakeModule({"dpkg-query": (0, "nginx: /usr/sbin/nginx\n", "")})
    facts = host_info.module_facts(module, dump, None)
    assert facts["modules"] == ["ngx_http_brotli_filter_module.so"]
    assert facts["modules_included"] is True
    # Control: a commented include, and no nginx -T (it failed): read from nginx.conf itself.
    facts = host_info.module_facts(module, None, "# include /etc/nginx/modules-enabled/*.conf;\nevents {}\n")
    assert facts["modules"] is None and facts["modules_included"] is False


def test_abi_is_what_the_package_of_the_binary_provides():
    answers = iter([(0, "nginx: /usr/sbin/nginx\n", ""), (0, "httpd, httpd-cgi, nginx-abi-1.26.3-1", "")])
    module = FakeModule({})
    module.run_command = lambda argv: next(answers)
    assert host_info.nginx_abi(module) == "nginx-abi-1.26.3-1"
    # Control: a binary dpkg does not know (built from source, or copied in).
    module.run_command = lambda argv: (1, "", "dpkg-query: no path found matching pattern /usr/sbin/nginx")
    assert host_info.nginx_abi(module) == ""


def test_candidate_depends_come_from_apt_cache():
    show = "Package: libnginx-mod-http-brotli-filter\nVersion: 1.0.0~rc-3\nDepends: nginx-abi-1.22.1-7, libbrotli1 (>= 0.6.0)\n"
    assert host_info.candidate_depends(FakeModule({"apt-cache": (0, show, "")}), ["libnginx-mod-http-brotli-filter"]) == {
        "libnginx-mod-http-brotli-filter": "nginx-abi-1.22.1-7, libbrotli1 (>= 0.6.0)"}
    # Control: apt without lists knows no candidate.
    assert host_info.candidate_depends(FakeModule({"apt-cache": (100, "", "E: No packages found")}), ["x"]) == {"x": ""}


def test_docker_containers_are_the_engines_list_of_every_container_with_the_label_and_its_inspected_host_config(tmp_path, fake_engine):
    import json
    from urllib.parse import unquote
    listed = [{"Id": "abc", "Names": ["/streamlit-demo"], "Labels": {"streamlit_ops.deploy.app": "demo"}, "Ports": [],
               "HostConfig": {"NetworkMode": "bridge"}}]
    inspected = {"Id": "abc", "HostConfig": {"Memory": 536870912, "NanoCpus": 0, "PidsLimit": 256,
                                             "RestartPolicy": {"Name": "unless-stopped"}}}
    engine = fake_engine(tmp_path / "docker.sock", {"/containers/json": (200, json.dumps(listed)),
                                                    "/containers/abc/json": (200, json.dumps(inspected))})
    try:
        got = host_info.docker_containers(str(tmp_path / "docker.sock"), "streamlit_ops.deploy.app", timeout=5)
    finally:
        engine.close()
    assert got == [dict(listed[0], HostConfig=dict(inspected["HostConfig"], NetworkMode="bridge"))]
    method, target, dummy = engine.requested[0].split(" ")
    assert method == "GET" and target.startswith("/containers/json?all=1&")
    assert unquote(target.split("filters=", 1)[1]) == '{"label": ["streamlit_ops.deploy.app"]}'
    assert engine.requested[1].split(" ")[1] == "/containers/abc/json"


def test_a_container_gone_between_list_and_inspect_keeps_the_lists_host_config(tmp_path, fake_engine):
    import json
    listed = [{"Id": "gone", "Names": ["/streamlit-demo"], "HostConfig": {"NetworkMode": "bridge"}}]
    engine = fake_engine(tmp_path / "docker.sock", {"/containers/json": (200, json.dumps(listed)),
                                                    "/containers/gone/json": (404, '{"message": "No such container"}')})
    try:
        assert host_info.docker_containers(str(tmp_path / "docker.sock"), "x", timeout=5) == listed
    finally:
        engine.close()


@pytest.mark.parametrize("status, body", [(500, '{"message": "engine broke"}'), (200, '{"not": "a list"}'), (200, "not json")])
def test_docker_containers_are_none_when_the_engine_does_not_answer_a_list(tmp_path, fake_engine, status, body):
    engine = fake_engine(tmp_path / "docker.sock", {"/containers/json": (status, body)})
    try:
        assert host_info.docker_containers(str(tmp_path / "docker.sock"), "x", timeout=5) is None
    finally:
        engine.close()
    # No engine at all (a first run: Docker is not installed yet).
    assert host_info.docker_containers(str(tmp_path / "absent.sock"), "x", timeout=5) is None


class _Script:
    """Answers SCRIPT --check with rc."""

    def __init__(self, rc):
        self.rc = rc
        self.ran = []

    def run_command(self, argv):
        self.ran.append(argv)
        return self.rc, "", ""


def _firewall(tmp_path):
    script, dropin = tmp_path / "fw", tmp_path / "fw.conf"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    dropin.write_text("[Service]\n")
    dropin.chmod(0o644)
    return {"script_path": str(script), "dropin_path": str(dropin)}


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.skipif(os.geteuid() != 0, reason="the files must be root's")
def test_firewall_read_gives_digests_owner_and_mode_and_the_rules_check(tmp_path):
    """The caller compares the digests with the content it would write (the role: `content | hash('sha256')`)."""
    from ansible_collections.streamlit_ops.deploy.plugins.module_utils.firewall import found
    paths = _firewall(tmp_path)
    script = _Script(0)
    read = found(script, paths)
    assert read == {"script": {"sha256": _sha256("#!/bin/sh\n"), "root_with_mode": True},
                    "dropin": {"sha256": _sha256("[Service]\n"), "root_with_mode": True}, "rules_in_place": True}
    assert script.ran == [[paths["script_path"], "--check"]]
    # Each control alone changes its own field: the rules, a mode, the content, an absent file.
    assert found(_Script(1), paths)["rules_in_place"] is False
    assert found(_Script(2), paths)["rules_in_place"] is False
    os.chmod(paths["dropin_path"], 0o600)
    assert found(_Script(0), paths)["dropin"]["root_with_mode"] is False
    os.chmod(paths["dropin_path"], 0o644)
    (tmp_path / "fw").write_text("#!/bin/sh\necho new\n")
    assert found(_Script(0), paths)["script"]["sha256"] == _sha256("#!/bin/sh\necho new\n")
    absent = found(_Script(0), dict(paths, dropin_path=str(tmp_path / "absent.conf")))
    assert absent["dropin"] == {"sha256": None, "root_with_mode": False}
    # A script that is not root's with its mode is not run.
    os.chmod(paths["script_path"], 0o775)
    unsafe = _Script(0)
    assert found(unsafe, paths)["rules_in_place"] is False and unsafe.ran == []

#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Read in one call what the collection's roles need to know about a Debian host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_info
short_description: Read packages, files, containers, the child firewall and Nginx facts of a Debian host in one call
description:
  - Reads, and never changes, what the collection's roles decide on before they change a host, so that a
    run that has nothing to do costs one round trip per host instead of one per question.
  - Packages come from dpkg's database (C(dpkg-query)), so no C(python3-apt) is needed.
  - Works on hosts as minimal as a Debian minbase with C(python3) and nothing else.
version_added: "1.0.0"
author: streamlit_ops maintainers (!UNKNOWN)
options:
  packages:
    description: Debian package names whose installed state to report.
    type: list
    elements: str
    default: []
  paths:
    description:
      - Paths to look at. For each, whether it exists and what it is; for a regular file also its SHA-1
        (as M(ansible.builtin.stat) and M(ansible.builtin.template) compute it) and its MD5 (as dpkg records conffiles).
    type: list
    elements: path
    default: []
  addresses:
    description: Also read the host's IPv4 addresses (see RV(addresses)), as C(ip) from iproute2 reports them.
    type: bool
    default: false
  nginx:
    description: Also read the Nginx facts (see RV(nginx)).
    type: bool
    default: false
  nginx_marker:
    description: A text whose presence in O(nginx_main_config) RV(nginx) reports as C(main_config_marker).
    type: str
  nginx_configured:
    description: Also read the worker settings Nginx would load, from C(nginx -T) (see RV(nginx)).
    type: bool
    default: false
  nginx_modules:
    description:
      - Also read the dynamic modules the configuration loads, whether it includes Debian's
        C(/etc/nginx/modules-enabled/*.conf), and the C(nginx-abi) the package of C(/usr/sbin/nginx) provides
        (see RV(nginx)).
    type: bool
    default: false
  apt_depends:
    description: Debian package names whose candidate's C(Depends) to report, as C(apt-cache show) has them.
    type: list
    elements: str
    default: []
  nginx_main_config:
    description: Nginx's main configuration file.
    type: path
    default: /etc/nginx/nginx.conf
  nginx_pid_file:
    description: Where the Nginx master writes its pid.
    type: path
    default: /run/nginx.pid
  os_release:
    description: The file that names the Debian release.
    type: path
    default: /etc/os-release
  docker_containers_label:
    description:
      - Also list every container, running or not, that carries this label (see RV(docker_containers)), from the
        Docker engine at O(docker_socket).
      - Needs no Python library on the host; the list is the one M(community.docker.docker_host_info) returns
        with C(containers_all), C(verbose_output) and the same label filter.
    type: str
  docker_socket:
    description: The Docker engine's socket that O(docker_containers_label) asks.
    type: path
    default: /var/run/docker.sock
  firewall:
    description:
      - Also read the files M(streamlit_ops.deploy.firewall_script) writes at these paths and whether its rules are
        in place (see RV(firewall)), so that the caller can tell, even before it knows their content, whether
        M(streamlit_ops.deploy.firewall_script) would change anything. Runs only C(SCRIPT --check), which compares.
    type: dict
    suboptions:
      script_path:
        description: Where the script is.
        type: path
        required: true
      dropin_path:
        description: Where the drop-in is.
        type: path
        required: true
extends_documentation_fragment:
  - streamlit_ops.deploy.read_only
"""

EXAMPLES = r"""
- name: Read what the role needs to know
  streamlit_ops.deploy.host_info:
    packages: [nginx, python3-apt]
    paths: [/etc/nginx/sites-enabled/default]
    nginx: true
  register: host
"""

RETURN = r"""
packages:
  description: Each package of O(packages) with V(true) when dpkg has it installed.
  returned: always
  type: dict
apt_lists:
  description: Whether apt has any package lists; V(false) on images built with their lists removed.
  returned: always
  type: bool
paths:
  description: Each path of O(paths) with C(exists), C(isreg), C(isdir), C(islnk), C(lnk_target), C(checksum) and C(md5).
  returned: always
  type: dict
addresses:
  description:
    - With O(addresses), C(default_ipv4) (the source address of the route to the internet, as Ansible's
      C(ansible_default_ipv4) has it; empty without a default route) and C(all_ipv4) (every IPv4 address but loopback).
  returned: when O(addresses) is true
  type: dict
nginx:
  description:
    - With O(nginx), C(binary) (whether C(/usr/sbin/nginx) exists), C(version), C(running) and C(pid) of the master
      from C(/run/nginx.pid), C(nofile_soft) and C(nofile_hard) (the open-file limits of that master, or of PID 1
      when it is not running, which the service manager passes on), C(nofile_source), C(cpus) (CPUs this host
      lets processes use, what C(worker_processes auto) starts), C(codename) (the Debian release),
      C(stock_md5) (the MD5 dpkg records for Debian's C(nginx.conf)), C(main_config_md5) and C(main_config_marker).
    - With O(nginx_configured), C(configured) holds C(worker_processes), C(worker_connections) and C(worker_rlimit_nofile)
      as C(nginx -T) shows them (null when not set), or is null when C(nginx -T) fails.
    - With O(nginx_modules), C(modules) (the file names of the modules C(load_module) loads, as C(nginx -T) shows them,
      or null when it fails), C(modules_included) (whether the configuration, or else O(nginx_main_config),
      includes C(/etc/nginx/modules-enabled/*.conf)) and C(abi) (the C(nginx-abi-*) the package that owns
      C(/usr/sbin/nginx) provides; empty for an Nginx that is not Debian's).
  returned: when O(nginx) is true
  type: dict
depends:
  description: Each package of O(apt_depends) with its candidate's C(Depends), empty when apt does not know it.
  returned: always
  type: dict
docker_containers:
  description:
    - With O(docker_containers_label), the containers with that label as the engine's C(GET /containers/json)
      lists them, each with the whole C(HostConfig) of its C(GET /containers/{id}/json) (memory, CPUs, PIDs limit and
      restart policy included); null when no engine answered at O(docker_socket) (none installed or running, for
      example).
  returned: when O(docker_containers_label) is set
  type: list
  elements: dict
firewall:
  description:
    - With O(firewall), for the script and the drop-in, C(sha256) of the file (V(null) when it is absent) and
      C(root_with_mode), whether it is root's with the mode M(streamlit_ops.deploy.firewall_script) gives it
      (0755 and 0644); and C(rules_in_place), whether the root-owned script's C(--check) exits 0.
    - M(streamlit_ops.deploy.firewall_script) would change nothing when both digests are those of the content it
      is given (C(content | hash('sha256'))), both files are root's with their modes and the rules are in place.
  returned: when O(firewall) is set
  type: dict
  sample:
    script: {"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "root_with_mode": true}
    dropin: {"sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", "root_with_mode": true}
    rules_in_place: true
"""

import glob
import hashlib
import http.client
import json
import os
import re
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.docker_engine import UnixConnection, get_json
from ansible_collections.streamlit_ops.deploy.plugins.module_utils.firewall import PATHS as FIREWALL_PATHS, found as firewall_found

APT_LISTS = "/var/lib/apt/lists"
NGINX_BINARY = "/usr/sbin/nginx"
NGINX_CONFFILE = "/etc/nginx/nginx.conf"
NGINX_CONFFILE_PACKAGE = "nginx-common"
# Debian's nginx.conf loads every enabled module package through this include.
MODULES_INCLUDE_RE = re.compile(r"^\s*include\s+/etc/nginx/modules-enabled/\*\.conf\s*;", re.M)
LOAD_MODULE_RE = re.compile(r"^\s*load_module\s+[\"']?(?:\S*/)?([^/\s;\"']+\.so)[\"']?\s*;", re.M)
WORKER_DIRECTIVES = ("worker_processes", "worker_connections", "worker_rlimit_nofile")
# Reading a whole file only makes sense for configuration-sized ones.
MAX_HASHED_BYTES = 16 * 1024 * 1024

ARGUMENT_SPEC = {
    "packages": {"type": "list", "elements": "str", "default": []},
    "paths": {"type": "list", "elements": "path", "default": []},
    "addresses": {"type": "bool", "default": False},
    "nginx": {"type": "bool", "default": False},
    "nginx_marker": {"type": "str"},
    "nginx_configured": {"type": "bool", "default": False},
    "nginx_modules": {"type": "bool", "default": False},
    "apt_depends": {"type": "list", "elements": "str", "default": []},
    "nginx_main_config": {"type": "path", "default": NGINX_CONFFILE},
    "nginx_pid_file": {"type": "path", "default": "/run/nginx.pid"},
    "os_release": {"type": "path", "default": "/etc/os-release"},
    "docker_containers_label": {"type": "str"},
    "docker_socket": {"type": "path", "default": "/var/run/docker.sock"},
    "firewall": {"type": "dict", "options": FIREWALL_PATHS},
}
# An engine that does not answer within this is reported as not answering.
DOCKER_TIMEOUT = 20


def docker_containers(socket_path, label, timeout=DOCKER_TIMEOUT):
    """Every container with label, running or not, as the engine lists them, each with its whole HostConfig
    from its inspect; None when the engine does not answer."""
    filters = quote(json.dumps({"label": [label]}))
    connection = UnixConnection(socket_path, timeout)
    try:
        listed = get_json(connection, f"/containers/json?all=1&limit=-1&size=0&trunc_cmd=0&filters={filters}")
        if not isinstance(listed, list):
            return None
        # The list's HostConfig holds the network mode only; what `docker update`
        # changes (memory, CPUs, PIDs, restart policy) is in the inspect's.
        for container in listed:
            inspected = get_json(connection, f"/containers/{quote(str(container.get('Id', '')))}/json")
            if isinstance(inspected, dict):
                container["HostConfig"] = dict(container.get("HostConfig") or {}, **(inspected.get("HostConfig") or {}))
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
    return listed


def installed_packages(module, names):
    """Which of names dpkg has installed: dpkg-query prints those it knows."""
    if not names:
        return {}
    rc, out, err = module.run_command(["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Abbrev}\n", *names])
    # rc 1 only says that some names are unknown to dpkg, which means "not installed".
    if rc not in (0, 1):
        module.fail_json(msg=f"dpkg-query failed: {err.strip()}")
    installed = {line.split()[0] for line in out.splitlines() if len(line.split()) > 1 and line.split()[1].startswith("ii")}
    return {name: name in installed for name in names}


def apt_lists_present():
    return bool(glob.glob(os.path.join(APT_LISTS, "*_Packages*")))


def digests(path):
    sha1, md5 = hashlib.sha1(), hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            sha1.update(block)
            md5.update(block)
    return sha1.hexdigest(), md5.hexdigest()


def path_info(path):
    info = {"exists": os.path.lexists(path), "isreg": False, "isdir": False, "islnk": os.path.islink(path), "lnk_target": None,
            "checksum": None, "md5": None}
    if info["islnk"]:
        info["lnk_target"] = os.readlink(path)
    if info["exists"] and os.path.exists(path):
        info["isreg"] = os.path.isfile(path)
        info["isdir"] = os.path.isdir(path)
        if info["isreg"] and os.path.getsize(path) <= MAX_HASHED_BYTES and os.access(path, os.R_OK):
            info["checksum"], info["md5"] = digests(path)
    return info


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def open_file_limits(pid):
    text = read(f"/proc/{pid}/limits") or ""
    match = re.search(r"^Max open files\s+(\S+)\s+(\S+)", text, re.M)
    if not match:
        return None
    # An unlimited limit is still capped by the kernel's nr_open.
    nr_open = int((read("/proc/sys/fs/nr_open") or "1048576").strip())
    return tuple(nr_open if value == "unlimited" else int(value) for value in match.groups())


def nginx_master_pid(pid_file):
    """The pid in Nginx's pid file while that process runs, else None."""
    text = (read(pid_file) or "").strip()
    return int(text) if text.isdigit() and os.path.isdir(f"/proc/{text}") else None


def stock_md5(module):
    """The MD5 dpkg records for Debian's nginx.conf, '' when nginx-common is not installed."""
    rc, out, dummy = module.run_command(["dpkg-query", "--show", "--showformat=${Conffiles}", NGINX_CONFFILE_PACKAGE])
    if rc != 0:
        return ""
    match = re.search(r"^\s*" + re.escape(NGINX_CONFFILE) + r"\s+([0-9a-f]{32})\b", out, re.M)
    return match.group(1) if match else ""


def nginx_version(module):
    if not os.path.exists(NGINX_BINARY):
        return ""
    dummy, out, err = module.run_command([NGINX_BINARY, "-v"])
    match = re.search(r"nginx/([0-9.]+)", err + out)
    return match.group(1) if match else ""


def addresses(module):
    """The default route's source address and every non-loopback IPv4 address."""
    ip = module.get_bin_path("ip")
    if not ip:
        return {"default_ipv4": "", "all_ipv4": []}
    dummy, route, dummy2 = module.run_command([ip, "-4", "-o", "route", "get", "8.8.8.8"])
    default = re.search(r"\bsrc (\d+\.\d+\.\d+\.\d+)", route)
    dummy, out, dummy2 = module.run_command([ip, "-4", "-o", "addr", "show"])
    found = re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    return {"default_ipv4": default.group(1) if default else "", "all_ipv4": [a for a in found if not a.startswith("127.")]}


def nginx_dump(module):
    """The configuration Nginx would load, every included file in it (nginx -T), None when it cannot be read."""
    if not os.path.exists(NGINX_BINARY):
        return None
    rc, out, dummy = module.run_command([NGINX_BINARY, "-T"])
    return out if rc == 0 else None


def configured_workers(module, dump=None):
    """The worker settings of the configuration Nginx would load, None when it cannot be read."""
    out = dump if dump is not None else nginx_dump(module)
    if out is None:
        return None
    found = {}
    for name in WORKER_DIRECTIVES:
        match = re.search(r"^\s*" + name + r"\s+([^;\s]+)\s*;", out, re.M)
        value = match.group(1) if match else None
        found[name] = int(value) if value and value.isdigit() and name != "worker_processes" else value
    return found


def nginx_abi(module):
    """The nginx-abi-* that the package owning the Nginx binary provides: Debian's
    module packages depend on exactly it. '' for a binary dpkg does not know."""
    rc, out, dummy = module.run_command(["dpkg-query", "--search", NGINX_BINARY])
    owner = out.split(":", 1)[0].strip() if rc == 0 else ""
    if not owner:
        return ""
    rc, out, dummy = module.run_command(["dpkg-query", "--show", "--showformat=${Provides}", owner])
    match = re.search(r"\bnginx-abi-[0-9][^\s,]*", out) if rc == 0 else None
    return match.group(0) if match else ""


def candidate_depends(module, names):
    """The Depends of apt's candidate of each name, '' when apt does not know it (or has no lists)."""
    depends = {}
    for name in names:
        rc, out, dummy = module.run_command(["apt-cache", "show", "--no-all-versions", name])
        match = re.search(r"^Depends:\s*(.*)$", out, re.M) if rc == 0 else None
        depends[name] = match.group(1).strip() if match else ""
    return depends


def module_facts(module, dump, main_config):
    return {
        "modules": LOAD_MODULE_RE.findall(dump) if dump is not None else None,
        "modules_included": bool(MODULES_INCLUDE_RE.search(dump if dump is not None else main_config or "")),
        "abi": nginx_abi(module) if os.path.exists(NGINX_BINARY) else "",
    }


def nginx_facts(module, params):
    pid = nginx_master_pid(params["nginx_pid_file"])
    limits = open_file_limits(pid) if pid else None
    source = f"the Nginx master (/proc/{pid}/limits)"
    if limits is None:
        limits, source = open_file_limits(1) or (1024, 1024), "PID 1 (/proc/1/limits; Nginx is not running)"
    codename = re.search(r'^VERSION_CODENAME="?([a-z]+)', read(params["os_release"]) or "", re.M)
    main_config = read(params["nginx_main_config"])
    marker = params["nginx_marker"]
    facts = {
        "binary": os.path.exists(NGINX_BINARY),
        "version": nginx_version(module),
        "running": pid is not None,
        "pid": pid,
        "nofile_soft": limits[0],
        "nofile_hard": limits[1],
        "nofile_source": source,
        "cpus": len(os.sched_getaffinity(0)),
        "codename": codename.group(1) if codename else "unknown",
        "stock_md5": stock_md5(module),
        "main_config_md5": path_info(params["nginx_main_config"])["md5"] or "",
        "main_config_marker": bool(marker) and main_config is not None and marker in main_config,
    }
    dump = nginx_dump(module) if params["nginx_configured"] or params.get("nginx_modules") else None
    if params["nginx_configured"]:
        facts["configured"] = configured_workers(module, dump) if dump is not None else None
    if params.get("nginx_modules"):
        facts.update(module_facts(module, dump, main_config))
    return facts


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    result = {
        "changed": False,
        "packages": installed_packages(module, params["packages"]),
        "apt_lists": apt_lists_present(),
        "paths": {path: path_info(path) for path in params["paths"]},
        "depends": candidate_depends(module, params["apt_depends"]),
    }
    if params["addresses"]:
        result["addresses"] = addresses(module)
    if params["nginx"]:
        result["nginx"] = nginx_facts(module, params)
    if params["firewall"]:
        result["firewall"] = firewall_found(module, params["firewall"])
    if params["docker_containers_label"]:
        result["docker_containers"] = docker_containers(params["docker_socket"], params["docker_containers_label"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()

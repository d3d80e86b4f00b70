# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The streamlit_app role's filters; the rules live in plugin_utils/streamlit_app_rules.py,
the container environment in plugin_utils/streamlit_env.py and its secrets.toml in
plugin_utils/streamlit_secrets.py."""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.lazy import Module

specs = Module("specs")
streamlit_env = Module("streamlit_env")
streamlit_secrets = Module("streamlit_secrets")
rules = Module("streamlit_app_rules")

VAR = "streamlit_app_containers"


def _item_options() -> dict:
    return specs.role_options("streamlit_app")[VAR]["options"]


def streamlit_app_errors(containers, bind_address, forwarded_allow_ips=(), firewall=False, firewall_allow=()):
    errors, items, labels = [], [], []
    for i, container in enumerate(containers or []):
        item, problems = specs.check(_item_options(), container, f"{VAR}[{i}]")
        errors += problems
        if not problems:
            items.append(item)
            labels.append(f"{VAR}[{i}]")
    errors += rules.containers_errors(items, labels)
    problem = rules.bind_address_problem(bind_address)
    if problem:
        errors.append(f"streamlit_app_bind_address: {problem}.")
    errors += [f"streamlit_app_forwarded_allow_ips: {p}" for p in rules.forwarded_problems(list(forwarded_allow_ips or []))]
    errors += rules.firewall_problems(bool(firewall), list(firewall_allow or []))
    return errors


def streamlit_app_containers(containers):
    return [specs.normalize(_item_options(), dict(c)) for c in containers or []]


def streamlit_app_firewall_sources(firewall_allow, bind_address):
    return rules.firewall_sources(list(firewall_allow or []), bind_address)


def streamlit_app_settled_images(containers, running):
    return rules.settled_images(streamlit_app_containers(containers), list(running or []))


def streamlit_app_env(container, forwarded_allow_ips=()):
    return streamlit_env.container_env(specs.normalize(_item_options(), dict(container)), list(forwarded_allow_ips or []))


def streamlit_app_secrets_toml(container, secrets_text=""):
    item = specs.normalize(_item_options(), dict(container))
    return streamlit_secrets.secrets_toml(str(secrets_text or ""), item.get("login"), item.get("cookie_secret"))


def _spec_labels(items, forwarded_allow_ips, bind_address, secret_names, revision):
    return {item["name"]: rules.spec_label(item, streamlit_env.container_env(item, list(forwarded_allow_ips or [])), str(bind_address),
                                           item["name"] in (secret_names or []), str(revision))
            for item in items}


def streamlit_app_spec_labels(containers, forwarded_allow_ips, bind_address, secret_names=(), revision=""):
    return _spec_labels(streamlit_app_containers(containers), forwarded_allow_ips, bind_address, secret_names, revision)


def streamlit_app_in_place(containers, listed, spec_labels, prefix, label):
    return rules.in_place(streamlit_app_containers(containers), list(listed or []), dict(spec_labels or {}), str(prefix), str(label))


def streamlit_app_replacing(containers, listed, spec_labels, prefix, label, secret_names=()):
    return rules.replacing(streamlit_app_containers(containers), list(listed or []), dict(spec_labels or {}), str(prefix), str(label),
                           list(secret_names or []))


def streamlit_app_verdict(containers, read, forwarded_allow_ips, bind_address, revision, docker_install=True,
                          engine_packages=(), python_packages=(), socket="", firewall=False, firewall_sha256=None,
                          prefix="", label="", check_mode=False):
    items = streamlit_app_containers(containers)
    names = rules.secret_names(items)
    return rules.host_verdict(items, dict(read or {}), _spec_labels(items, forwarded_allow_ips, bind_address, names, revision), names,
                              docker_install=boolean(docker_install, strict=False), engine_packages=list(engine_packages or []),
                              python_packages=list(python_packages or []), socket=str(socket), firewall=boolean(firewall, strict=False),
                              firewall_sha256=dict(firewall_sha256 or {}), prefix=str(prefix), label=str(label),
                              check_mode=boolean(check_mode, strict=False))


class FilterModule:
    def filters(self):
        return {
            "streamlit_app_containers": streamlit_app_containers,
            "streamlit_app_env": streamlit_app_env,
            "streamlit_app_errors": streamlit_app_errors,
            "streamlit_app_firewall_sources": streamlit_app_firewall_sources,
            "streamlit_app_in_place": streamlit_app_in_place,
            "streamlit_app_replacing": streamlit_app_replacing,
            "streamlit_app_secrets_toml": streamlit_app_secrets_toml,
            "streamlit_app_settled_images": streamlit_app_settled_images,
            "streamlit_app_spec_labels": streamlit_app_spec_labels,
            "streamlit_app_verdict": streamlit_app_verdict,
        }

# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The nginx_proxy role's filters; the rules and the sizing live in plugin_utils/nginx_proxy_rules.py."""

from __future__ import annotations

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.lazy import Module

brotli = Module("nginx_proxy_brotli")
rules = Module("nginx_proxy_rules")
specs = Module("specs")


def _normalized(settings) -> tuple[dict, list[str]]:
    options = specs.role_options("nginx_proxy")
    return specs.check(options, {k: v for k, v in dict(settings).items() if k in options})


def nginx_proxy_errors(settings, host, found):
    # Every nginx_proxy_* variable, so a misspelt one is reported too.
    values, problems = specs.check(specs.role_options("nginx_proxy", None), dict(settings))
    return problems or rules.settings_errors(values, dict(host), dict(found or {})) + brotli.errors(values, dict(host))


def _apps(apps) -> list[dict]:
    return specs.normalize(specs.role_options("nginx_proxy"), {"nginx_proxy_apps": list(apps)})["nginx_proxy_apps"]


def nginx_proxy_apps(apps):
    return rules.resolved_apps(_apps(apps))


def nginx_proxy_htpasswd(apps):
    return rules.htpasswd(_apps(apps))


def nginx_proxy_sizing(settings, nginx):
    values = _normalized(settings)[0]
    size = rules.settings_sizing(values, nginx["cpus"])
    deferred = values["nginx_proxy_deferred_accept"]
    configured = nginx.get("configured")
    if configured:
        # What an nginx.conf the role does not manage holds, and what it would need.
        theirs = rules.sizing(values["nginx_proxy_expected_sessions"], rules.workers(configured.get("worker_processes") or 1, nginx["cpus"]),
                              values["nginx_proxy_reuseport"], deferred=deferred)
        size["unmanaged"] = {
            "capacity": rules.capacity(configured, nginx["cpus"], values["nginx_proxy_reuseport"], nginx["nofile_soft"], nginx["nofile_hard"],
                                       deferred),
            "worker_connections": theirs["worker_connections"],
            "worker_rlimit_nofile": theirs["worker_rlimit_nofile"],
        }
    return size


def nginx_proxy_brotli(settings, host):
    found = brotli.decide(_normalized(settings)[0], dict(host))
    return {**found, "note": "" if found["enabled"] or not found["fix"] else brotli.note(found)}


class FilterModule:
    def filters(self):
        return {"nginx_proxy_errors": nginx_proxy_errors, "nginx_proxy_apps": nginx_proxy_apps, "nginx_proxy_sizing": nginx_proxy_sizing,
                "nginx_proxy_htpasswd": nginx_proxy_htpasswd, "nginx_proxy_brotli": nginx_proxy_brotli}

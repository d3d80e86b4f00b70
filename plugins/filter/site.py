# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The site playbook's filters; the rules and the mapping live in plugin_utils/site.py."""

from __future__ import annotations

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.lazy import Module

site = Module("site")
specs = Module("specs")


def site_errors(given, children=None, hosts=None, masters_ipv4=None, playbook="site", masters=None):
    return site.errors(dict(given), list(children or []), dict(hosts or {}), list(masters_ipv4 or []), playbook, list(masters or []))


def site_plan(given, children, hosts, masters_ipv4, kept_cookie_secrets=""):
    return site.plan(dict(given), list(children), dict(hosts), list(masters_ipv4), str(kept_cookie_secrets or ""))


def site_settings(given, playbook="site"):
    """The playbook's own streamlit_ops_* settings with the spec's defaults (apps left out)."""
    options = specs.playbook_options(playbook)
    own = {k: v for k, v in dict(given).items() if k in options}
    normalized = specs.normalize(options, own)
    normalized.pop(site.APPS, None)
    return normalized


class FilterModule:
    def filters(self):
        return {"site_errors": site_errors, "site_plan": site_plan, "site_settings": site_settings}

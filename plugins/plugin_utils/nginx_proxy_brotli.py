# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Whether the nginx_proxy role can give a host brotli, and how.

Brotli comes from Debian's dynamic module package. Its directives are only
rendered when the configuration Nginx loads really loads the module (or
will, once the role installed the package); anywhere else ``nginx -t`` would
fail with 'unknown directive "brotli"'. ``decide`` is the one place that
says so: the templates, the install step, the auto mode's warning and the
validate rule for ``nginx_proxy_brotli: true`` all read its answer.
"""

from __future__ import annotations

import re

PACKAGE = "libnginx-mod-http-brotli-filter"
MODULE = "ngx_http_brotli_filter_module.so"
# Where the package puts the load_module line that modules-enabled links to.
AVAILABLE = "/usr/share/nginx/modules-available/mod-http-brotli-filter.conf"
# The Debian releases that ship PACKAGE for their own Nginx.
RELEASES = ("bookworm", "trixie")
ABI_RE = re.compile(r"\bnginx-abi-[0-9][^\s,|]*")
NO_BROTLI = ", or set nginx_proxy_brotli to false"


def _off(reason: str, fix: str) -> dict:
    return {"enabled": False, "install": False, "reason": reason, "fix": fix}


def decide(s: dict, host: dict) -> dict:
    """enabled: render the brotli directives; install: the install step adds PACKAGE;
    reason and fix: why not, and what would give it (empty when enabled).

    ``s`` holds the nginx_proxy_* settings, ``host`` what the host_info module
    read (packages, depends, and nginx with nginx_modules).
    """
    if s.get("nginx_proxy_brotli") is False:
        return _off("nginx_proxy_brotli is false", "")
    nginx = host.get("nginx") or {}
    modules = nginx.get("modules")
    if modules and MODULE in modules:
        return {"enabled": True, "install": False, "reason": "", "fix": ""}
    fresh = not nginx.get("binary")
    installed = bool((host.get("packages") or {}).get(PACKAGE))
    # The role's own nginx.conf and Debian's both include modules-enabled.
    manages_main = bool(s.get("nginx_proxy_manage_main_config")) and bool(s.get("nginx_proxy_server", True))
    included = fresh or manages_main or bool(nginx.get("modules_included"))
    load_fix = ("add 'include /etc/nginx/modules-enabled/*.conf;' at the top of nginx.conf (as Debian's nginx.conf has it), "
                f"or 'load_module modules/{MODULE};'")
    codename = nginx.get("codename", "unknown")
    if codename not in RELEASES:
        return _off(f"Debian '{codename}' has no {PACKAGE} package for its Nginx (bookworm and trixie have)",
                    f"load an ngx_brotli built for this Nginx with 'load_module .../{MODULE};' in nginx.conf")
    if installed:
        # Installed and included, but nginx -T could not be read (the current configuration fails): it loads.
        if modules is None and included:
            return {"enabled": True, "install": False, "reason": "", "fix": ""}
        if included:
            return _off(f"{PACKAGE} is installed, but its link in /etc/nginx/modules-enabled is gone, so Nginx does not load {MODULE}",
                        f"re-create it (ln -s {AVAILABLE} /etc/nginx/modules-enabled/50-{AVAILABLE.rsplit('/', 1)[1]})")
        return _off(f"{PACKAGE} is installed, but nginx.conf does not include /etc/nginx/modules-enabled/*.conf, "
                    f"so Nginx does not load {MODULE}", load_fix)
    if not fresh and not nginx.get("abi"):
        return _off(f"the Nginx on this host is not Debian's package (no nginx-abi), and {PACKAGE} loads only into Debian's",
                    f"load an ngx_brotli built for this Nginx with 'load_module .../{MODULE};' in nginx.conf")
    if not s.get("nginx_proxy_install", True):
        return _off(f"{PACKAGE} is not installed, and nginx_proxy_install is false, so the role installs no package",
                    f"install it yourself (apt-get install {PACKAGE}), or set nginx_proxy_install to true")
    if not included:
        return _off(f"nginx.conf does not include /etc/nginx/modules-enabled/*.conf, so {PACKAGE} would not be loaded", load_fix)
    if not fresh:
        needed = ABI_RE.search((host.get("depends") or {}).get(PACKAGE) or "")
        if not needed:
            return _off(f"apt knows no {PACKAGE} candidate here (no package lists, or Debian's main component is missing), "
                        "so the role cannot check that it matches the installed Nginx",
                        "run apt-get update on the host")
        if needed.group(0) != nginx["abi"]:
            return _off(f"apt's {PACKAGE} needs {needed.group(0)}, but the installed Nginx provides {nginx['abi']}, "
                        "so installing it would replace Nginx",
                        "upgrade Nginx first (apt-get install nginx)")
    return {"enabled": True, "install": True, "reason": "", "fix": ""}


def errors(s: dict, host: dict) -> list[str]:
    """nginx_proxy_brotli true asks for brotli: a host that cannot have it fails before any change."""
    if s.get("nginx_proxy_brotli") is not True:
        return []
    found = decide(s, host)
    if found["enabled"]:
        return []
    return [f"nginx_proxy_brotli is true, but {found['reason']}: {found['fix']}, "
            "or leave nginx_proxy_brotli null to serve gzip alone where brotli cannot be had"]


def note(found: dict) -> str:
    """What auto mode (nginx_proxy_brotli null) says when it falls back to gzip."""
    return (f"brotli is off on this host and clients get gzip: {found['reason']}. To have brotli, {found['fix']}; "
            f"to silence this note{NO_BROTLI}.")

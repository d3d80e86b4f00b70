# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The site playbook's rules and the mapping from the inventory to the roles' inputs.

The site playbook owns three variables (``streamlit_ops_apps``,
``streamlit_ops_origin_policy``, ``streamlit_ops_public_url``); everything
else is a role variable that the user sets in the inventory and the roles
check themselves. ``plan`` turns the site variables into each role's input,
and ``errors`` checks the site's own rules and then runs each role's rules on
what the plan hands it, with every message naming the user's
``streamlit_ops_apps[i]``: all of it before any host changes.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import app_rules, nginx_proxy_rules, specs
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import streamlit_app_rules as child_rules

APPS = "streamlit_ops_apps"
# 1.0.0 renamed the playbook's variables: its own got the prefix streamlit_ops_,
# the rest are the roles' variables.
RENAMED = {
    "streamlit_apps": "streamlit_ops_apps",
    "streamlit_origin_policy": "streamlit_ops_origin_policy",
    "streamlit_public_url": "streamlit_ops_public_url",
    "streamlit_child_address": "streamlit_app_bind_address",
    "streamlit_proxy_addresses": "streamlit_app_forwarded_allow_ips",
    "streamlit_remove_images": "streamlit_app_remove_images",
    "streamlit_server_name": "nginx_proxy_server_name",
    "streamlit_http_port": "nginx_proxy_listen_port",
    "streamlit_https_port": "nginx_proxy_https_port",
    "streamlit_tls_certificate": "nginx_proxy_tls_certificate",
    "streamlit_tls_certificate_key": "nginx_proxy_tls_certificate_key",
    "streamlit_tls_remote_src": "nginx_proxy_tls_remote_src",
    "streamlit_hsts_max_age": "nginx_proxy_hsts_max_age",
    "streamlit_nginx_server": "nginx_proxy_server",
    "streamlit_smoke_check": "nginx_proxy_smoke_check",
}
# The issue that asked for Day 2 named these; the collection calls them otherwise.
CALLED = {
    "streamlit_rolling_batch": "streamlit_ops_rolling_batch",
    "streamlit_drain_timeout": "streamlit_ops_drain_timeout",
    "streamlit_child_firewall": "streamlit_app_firewall",
    # ... and so did the issue about the edge (access, identity, a load balancer in front).
    "streamlit_trusted_proxies": "nginx_proxy_trusted_proxies",
    "streamlit_edge_idle_timeout": "nginx_proxy_edge_idle_timeout",
}
# App fields that name a file on the controller.
CONTROLLER_PATHS = ("image_archive", "secrets_file")
# The fields of an app that its container takes as they are.
CONTAINER_FIELDS = (
    "name", "image", "image_archive", "port", "env", "command", "options", "secrets_file", "cookie_secret", "memory",
    "cpus", "registry", "volumes", "user", "max_upload_mb", "ping_interval", "log_max_size", "log_max_files", "pull",
    "read_only", "no_new_privileges", "cap_drop_all", "pids_limit", "privileged_mounts", "login",
)
# Stands in for a cookie secret not generated yet when only the rules run.
PLACEHOLDER_SECRET = "x" * 32


def _origin(scheme: str, host: str, port) -> str:
    default = 443 if scheme == "https" else 80
    host = f"[{host}]" if ":" in host else host.lower()
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def public_origins(public_url, nginx: dict) -> list[str]:
    """The 'scheme://host[:port]' origins users browse to: the public URL, else the master's server names."""
    if public_url:
        parts = urlsplit(str(public_url).strip())
        try:
            return [_origin(parts.scheme.lower(), parts.hostname, parts.port)] if parts.hostname else []
        except ValueError:  # a bad port: public_url_problem says so
            return []
    tls = bool(nginx.get("nginx_proxy_tls_certificate"))
    scheme, port = ("https", nginx["nginx_proxy_https_port"]) if tls else ("http", nginx["nginx_proxy_listen_port"])
    # '_' is the catch-all; '*.x', 'x.*', '.x' and '~regex' name no single origin.
    names = [n for n in str(nginx["nginx_proxy_server_name"]).split() if n != "_" and "*" not in n and not n.startswith((".", "~"))]
    return list(dict.fromkeys(_origin(scheme, name, port) for name in names))


def public_url_problem(url) -> str | None:
    parts = urlsplit(str(url).strip())
    try:
        port_ok = parts.port is None or 1 <= parts.port <= 65535
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or parts.path not in ("", "/") or parts.query:
        return (f"streamlit_ops_public_url: {url!r} is not 'http(s)://host[:port]' (no path); "
                "write the address users browse to, e.g. 'https://apps.example.com:8443'.")
    return None


def _settings(given: dict) -> tuple[dict, dict, list[str]]:
    """The site's own variables and the nginx_proxy settings it reads, normalized, and the site's spec problems."""
    own = {k: v for k, v in given.items() if k.startswith("streamlit_ops_")}
    site, problems = specs.check(specs.playbook_options("site"), own)
    nginx_options = specs.role_options("nginx_proxy")
    nginx = specs.normalize(nginx_options, {k: v for k, v in given.items() if k in nginx_options})
    return site, nginx, problems


def _hosts_problem(app: dict, children: list[str]) -> str | None:
    hosts = app.get("hosts")
    if hosts is None:
        return None
    if not hosts:
        return "must be a non-empty list of hosts from the group streamlit_children, or omitted for all."
    unknown = [h for h in hosts if h not in children]
    if unknown:
        return f"{', '.join(unknown)} not in the group streamlit_children; add them to that group or remove them from the list."
    if len(set(hosts)) != len(hosts):
        return "lists a host twice; list each child once."
    return None


def _app_hosts(app: dict, children: list[str]) -> list[str]:
    return [h for h in (app.get("hosts") or children) if h in children]


def _backend(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def kept_secrets(text: str) -> dict:
    """The cookie secrets a previous run kept (JSON: app name -> secret); {} when none or unreadable."""
    try:
        kept = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {str(k): v for k, v in kept.items() if isinstance(v, str)} if isinstance(kept, dict) else {}


def identity_headers(options) -> list[str]:
    """The request headers an app's server.trustedUserHeaders names (header -> st.user key; a dict, or JSON
    text as Streamlit also takes it): the proxy clears them, so only a proxy in front of it can set them."""
    value = (options or {}).get(child_rules.TRUSTED_USER_HEADERS) if isinstance(options, dict) else None
    return [str(name) for name in child_rules.trusted_user_headers(value) or {}]


def proxy_auth(auth):
    """The app's auth as the proxy takes it (the spec gave it its defaults)."""
    return dict(auth) if auth else None


def _usable_identity_headers(headers: dict) -> dict:
    """The identity headers Streamlit can start with: string keys, one header per key (errors names the rest)."""
    usable: dict = {}
    for header, key in headers.items():
        if isinstance(key, str) and key.strip() and key not in usable.values():
            usable[str(header)] = key
    return usable


def _identity_header_problems(headers: dict) -> list[str]:
    problems, seen = [], {}
    for header, key in headers.items():
        if not isinstance(key, str) or not key.strip():
            problems.append(f"{header}: {key!r} is not an st.user key; map the header to a name, e.g. 'user' or 'email'.")
        elif key in seen:
            problems.append(f"maps both {seen[key]} and {header} to the st.user key {key!r}, which Streamlit refuses at start; "
                            "give each header its own key.")
        else:
            seen[key] = header
    return problems


def _header_clashes(own: dict, auth: dict) -> list[tuple[str, str, str]]:
    """(user's header, auth's header, st.user key) where the two map different headers to one key."""
    keys = {key: header for header, key in auth.items()}
    return [(header, keys[key], key) for header, key in own.items() if key in keys and keys[key] != header]


def merged_options(options, auth) -> dict | None:
    """The app's options with forward auth's identity headers merged into server.trustedUserHeaders.

    The user's own mapping stays, the auth's wins on the same header and on the
    same st.user key (Streamlit refuses two headers for one key; errors says so).
    Written as JSON text, the only form Streamlit reads from its variable.
    """
    if not auth or auth["type"] != "forward":
        return options
    options = dict(options or {})
    own = child_rules.trusted_user_headers(options.get(child_rules.TRUSTED_USER_HEADERS)) or {}
    wanted = _usable_identity_headers(auth["identity_headers"])
    clashing = {clash[0] for clash in _header_clashes(own, wanted)}
    merged = {header: key for header, key in own.items() if header not in clashing}
    merged.update(wanted)
    if merged or child_rules.TRUSTED_USER_HEADERS in options:
        options[child_rules.TRUSTED_USER_HEADERS] = json.dumps(merged)
    return options


def redirect_uri(origins: list[str], path: str) -> str | None:
    """Where the identity provider sends the browser back: Streamlit's oauth2callback under the app's path."""
    return f"{origins[0]}{path}oauth2callback" if origins else None


def container_login(login, origins: list[str], path: str):
    """The app's login for its container, with redirect_uri derived from the first public origin."""
    if not login:
        return None
    derived = redirect_uri(origins, path)
    return dict(login, redirect_uri=derived) if derived else dict(login)


def redirect_url(public_url, nginx: dict):
    """Where the proxy's plain HTTP redirects: nginx_proxy_redirect_url, else an https public URL, else None
    (https://$host)."""
    if nginx.get("nginx_proxy_redirect_url"):
        return nginx["nginx_proxy_redirect_url"]
    url = str(public_url or "").strip()
    return url if url.lower().startswith("https://") and not public_url_problem(url) else None


def plan(given: dict, children: list[str], hosts: dict, masters_ipv4: list[str], kept_text: str | None = None) -> dict:
    """Each role's input from the inventory.

    ``given`` holds the master's ``streamlit_ops_*`` and ``nginx_proxy_*``
    variables, ``hosts`` each child's ``bind_address``,
    ``forwarded_allow_ips`` and ``firewall_allow`` as the inventory or its
    facts give them, ``masters_ipv4`` the masters' addresses (the children
    trust their X-Forwarded-* headers and let them through their firewall by
    default) and ``kept_text`` the cookie secrets
    kept by earlier runs (None while only the rules run). An app without a
    cookie_secret of its own gets its kept one, or a new one;
    ``cookie_secrets`` is what to keep and ``cookie_secrets_changed`` whether
    that differs from what was kept.
    """
    site, nginx = _settings(given)[:2]
    origins = public_origins(site.get("streamlit_ops_public_url"), nginx)
    kept = kept_secrets(kept_text or "")
    result = {"children": {h: {"containers": [], "labels": []} for h in children}, "proxy_apps": [], "cookie_secrets": {}}
    for i, app in enumerate(site.get(APPS) or []):
        policy = app.get("origin_policy") or site["streamlit_ops_origin_policy"]
        strict = policy == "strict"
        item = {key: app[key] for key in CONTAINER_FIELDS if app.get(key) is not None}
        item["path"] = app_rules.app_path(app)
        auth = proxy_auth(app.get("auth"))
        if auth and auth["type"] == "forward":
            item["options"] = merged_options(app.get("options"), auth)
        if app.get("login"):
            item["login"] = container_login(app["login"], origins, item["path"])
        if strict:
            item["origins"] = origins
        if "cookie_secret" not in item:
            secret = kept.get(app["name"]) if kept_text is not None else PLACEHOLDER_SECRET
            item["cookie_secret"] = result["cookie_secrets"][app["name"]] = secret or secrets.token_hex(32)
        runs_on = _app_hosts(app, children)
        for host in runs_on:
            result["children"][host]["containers"].append(item)
            result["children"][host]["labels"].append(f"{APPS}[{i}]")
        result["proxy_apps"].append({
            "name": app["name"],
            "path": item["path"],
            "backends": [_backend(str(hosts.get(h, {}).get("bind_address") or ""), app["port"]) for h in runs_on],
            "max_upload_mb": app["max_upload_mb"],
            "ping_interval": app["ping_interval"],
            "sticky": app["sticky"],
            # same-origin allows the public origins besides each request's Host (an outer proxy may rewrite Host).
            "origins": [] if policy == "open" else origins,
            "origin_policy": policy,
            "clear_headers": identity_headers(item.get("options")),
        })
        # Omitted when not set: the proxy's own default is no auth and everyone allowed.
        if auth:
            result["proxy_apps"][-1]["auth"] = auth
        if app.get("allow") is not None:
            result["proxy_apps"][-1]["allow"] = list(app["allow"])
    result["proxy_redirect_url"] = redirect_url(site.get("streamlit_ops_public_url"), nginx)
    result["cookie_secrets_changed"] = result["cookie_secrets"] != kept
    for host in children:
        info = hosts.get(host) or {}
        result["children"][host]["bind_address"] = info.get("bind_address")
        given_ips = info.get("forwarded_allow_ips")
        result["children"][host]["forwarded_allow_ips"] = list(masters_ipv4 if given_ips is None else given_ips)
        # The firewall lets the masters through unless the inventory says who.
        given_allow = info.get("firewall_allow")
        result["children"][host]["firewall_allow"] = list(masters_ipv4 if given_allow is None else given_allow)
    return result


def _name_problems(given: dict) -> list[str]:
    problems = [f"{old} was renamed in 1.0.0: set {new} instead." for old, new in RENAMED.items() if old in given]
    return problems + [f"{old} is called {new} in this collection; set {new} instead." for old, new in CALLED.items() if old in given]


def _app_problems(label: str, app: dict) -> list[tuple[str, str]]:
    """(field, message) for the rules the site checks on each app beyond the roles' own."""
    problems = []
    for field in CONTROLLER_PATHS:
        path = app.get(field)
        problem = app_rules.relative_problem(path) if path is not None else None
        if problem:
            problems.append((field, problem))
    if app["max_upload_mb"] > app_rules.MAX_UPLOAD_MB:
        problems.append(("max_upload_mb", f"{app['max_upload_mb']} MB is more than {app_rules.MAX_UPLOAD_MB} (1 TiB), and Streamlit "
                                          "holds an upload in memory; write the largest file users upload, e.g. 200."))
    memory = child_rules.MEMORY_RE.match(app.get("memory") or "")
    limit = int(memory.group(1)) * child_rules.UNIT_BYTES[memory.group(2).lower()] if memory else 0
    if limit >= child_rules.MIN_MEMORY and app["max_upload_mb"] * 1024**2 >= limit:
        problems.append(("max_upload_mb", f"{app['max_upload_mb']} MB is not below memory {app['memory']!r}, and Streamlit holds an upload "
                                          "in memory, so one such upload would get the container killed; lower max_upload_mb or raise memory."))
    return problems


def _edge_problems(app: dict, origins: list[str]) -> list[tuple[str, str]]:
    """(field, message) for auth and login as they meet the app's options and the public URL.

    The proxy's side of auth and allow (hashes, URLs, networks) is
    nginx_proxy_rules', which errors runs on the plan's proxy_apps.
    """
    problems = []
    auth = proxy_auth(app.get("auth"))
    if auth and auth["type"] == "forward":
        # The merge rewrites the option, so the container's own rule would no longer see the user's value.
        value = (app.get("options") or {}).get(child_rules.TRUSTED_USER_HEADERS)
        problem = None if value is None else (child_rules.option_problem(child_rules.TRUSTED_USER_HEADERS, value)
                                              or child_rules.trusted_user_headers_problem(value))
        if problem:
            problems.append(("options", problem + "."))
        problems += [("auth.identity_headers", p) for p in _identity_header_problems(auth["identity_headers"])]
        own = child_rules.trusted_user_headers(value) or {}
        for header, auth_header, key in _header_clashes(own, _usable_identity_headers(auth["identity_headers"])):
            problems.append(("auth.identity_headers",
                             f"maps {auth_header} to the st.user key {key!r}, which options['{child_rules.TRUSTED_USER_HEADERS}'] maps "
                             f"{header} to as well, and Streamlit refuses two headers for one key; remove {header} from the option, "
                             f"or map {auth_header} to another key."))
    login = app.get("login")
    if login:
        path = app_rules.app_path(app)
        derived = redirect_uri(origins, path)
        if derived is None:
            problems.append(("login", "st.login needs the public URL for its redirect_uri, and none can be derived; set "
                                      "streamlit_ops_public_url, e.g. 'https://apps.example.com', or nginx_proxy_server_name to "
                                      "the name users browse to (not '_', a wildcard or a regex)."))
        elif login.get("redirect_uri") is not None and login["redirect_uri"] != derived:
            problems.append(("login.redirect_uri",
                             f"{login['redirect_uri']!r} is not {derived!r}, the public URL + path + 'oauth2callback' where "
                             "Streamlit answers the identity provider behind this proxy; remove redirect_uri to have it derived, "
                             "or set streamlit_ops_public_url to the URL users browse to (register the same URL at the provider)."))
    return problems


def _listener_problems(label: str, app: dict, host: str, nginx: dict) -> list[str]:
    """An app port on a child that is also a master, where Nginx listens on all addresses."""
    if not nginx.get("nginx_proxy_server", True):
        return []
    ports = {"nginx_proxy_listen_port": nginx["nginx_proxy_listen_port"]}
    if nginx.get("nginx_proxy_tls_certificate"):
        ports["nginx_proxy_https_port"] = nginx["nginx_proxy_https_port"]
    return [
        f"{label}.port: {app['port']} is {var} of the master {host}, which is also a child of this app; "
        f"Nginx listens there on every address, so give the app another port."
        for var, port in ports.items() if app["port"] == port
    ]


def errors(given: dict, children: list[str] | None = None, hosts: dict | None = None, masters_ipv4: list[str] | None = None,
           playbook: str = "site", masters: list[str] | None = None) -> list[str]:
    """Every rule the deployment breaks, each message naming the variable and the fix.

    For the remove playbook only the renamed variables matter. ``masters``
    (the group streamlit_master) lets the ports of a child that is also a
    master be checked against Nginx's own.
    """
    problems = _name_problems(given)
    if playbook == "remove":
        return problems
    children, hosts, masters_ipv4, masters = children or [], hosts or {}, masters_ipv4 or [], masters or []
    if APPS not in given:
        return problems + [f"{APPS} is not set: define it for all hosts (group_vars/all), see inventory.example."]
    site, nginx, spec_problems = _settings(given)
    # The streamlit_app settings the user set for every host; the site supplies the required ones.
    app_options = {name: dict(spec, required=False) for name, spec in specs.role_options("streamlit_app", None).items()}
    spec_problems += specs.check(app_options, {k: v for k, v in given.items() if k.startswith("streamlit_app_")})[1]
    if spec_problems:
        return problems + spec_problems
    for name, least, example in (("streamlit_ops_rolling_batch", 1, "1 (one child at a time)"),
                                 ("streamlit_ops_drain_timeout", 0, "30, or 0 not to wait"),
                                 ("streamlit_ops_lock_wait", 0, "300, or 0 to refuse at once")):
        if site.get(name) is not None and site[name] < least:
            problems.append(f"{name}: {site[name]!r} is below {least}; write a whole number of at least {least}, e.g. {example}.")
    apps = site[APPS]
    if not apps:
        return problems + [f"{APPS}: is empty; list at least one app (name, image, port), see inventory.example."]
    url = site.get("streamlit_ops_public_url")
    if url and public_url_problem(url):
        problems.append(public_url_problem(url))
    origins = public_origins(url, nginx)
    labels = [f"{APPS}[{i}]" for i in range(len(apps))]
    # Fields whose problem the site reports itself, so the roles' take on them is left out.
    own: set[str] = set()
    mine: set[str] = set()
    for i, app in enumerate(apps):
        problem = _hosts_problem(app, children)
        if problem:
            problems.append(f"{APPS}[{i}].hosts: {problem}")
        for field, problem in _app_problems(labels[i], app) + _edge_problems(app, origins):
            problems.append(f"{labels[i]}.{field}: {problem}")
            if field in CONTROLLER_PATHS:
                own.add(f"{labels[i]}.{field}:")
                mine.add(problems[-1])
        for host in set(_app_hosts(app, children)) & set(masters):
            problems += _listener_problems(labels[i], app, host, nginx)
        if (app.get("origin_policy") or site["streamlit_ops_origin_policy"]) == "strict" and not origins:
            scope = "origin_policy" if app.get("origin_policy") else "streamlit_ops_origin_policy"
            problems.append(
                f"{APPS}[{i}].{scope}: strict needs a public origin and none can be derived; set streamlit_ops_public_url, "
                "or nginx_proxy_server_name to the name users browse to (not '_', a wildcard or a regex)."
            )
    # All apps share the master's server: one path under another takes its requests.
    problems += app_rules.nested_paths(labels, [app_rules.app_path(app) for app in apps])
    roles = plan(given, children, hosts, masters_ipv4)
    # The backends are the children's addresses, whose own rule is reported per child below.
    problems += [p for p in nginx_proxy_rules.apps_errors(roles["proxy_apps"], [f"{APPS}[{i}]" for i in range(len(apps))])
                 if ".backends" not in p.split(":", 1)[0]]
    for host, child in roles["children"].items():
        problems += child_rules.containers_errors(child["containers"], child["labels"], f" on {host}")
        if not child["containers"]:
            continue
        address = child_rules.bind_address_problem(child["bind_address"])
        if address:
            problems.append(f"streamlit_app_bind_address of {host}: {address}.")
        problems += [f"streamlit_app_forwarded_allow_ips of {host}: {p}" for p in child_rules.forwarded_problems(child["forwarded_allow_ips"])]
    # The roles' rules see the same app on several hosts: say each thing once.
    return [p for p in dict.fromkeys(problems) if p in mine or not p.startswith(tuple(own))]

# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The nginx_proxy role's cross-field rules and its worker sizing, on input
its argument spec has already checked and normalized (see specs.py).

The sizing arithmetic lives here once: the role's nginx.conf, its checks
against the master's open-file limit and its warning for an nginx.conf it
does not manage all call ``sizing``.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import app_rules, tls

# A proxied WebSocket holds two connections in one worker: client and upstream.
CONNECTIONS_PER_SESSION = 2
# reuseport hashes connections over the workers: close to even (for 10,000
# sessions on 2 workers the spread is about +-1 %), never exact: 10 % margin.
SPREAD_MARGIN = (11, 10)
# Connections a worker needs besides the sessions: its listening sockets, the
# idle keepalive pools and the page loads and uploads in flight.
CONNECTION_RESERVE = 1024
# File descriptors a worker needs besides its connections: log files and the
# temp files of buffered responses.
FD_RESERVE = 1024
# Nginx's own defaults when nginx.conf does not set them.
NGINX_DEFAULT_CONNECTIONS = 512
# Debian releases whose stock nginx.conf templates/nginx.conf.j2 reproduces.
MAIN_CONFIG_RELEASES = ("bookworm", "trixie")

# Host name, IPv4 address or [IPv6] address, then ':PORT'.
BACKEND_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$")
# One or more names separated by single spaces; nothing that could end the
# directive or open a block.
SERVER_NAME_RE = re.compile(r"""^[^\s;{}'"]+(?: [^\s;{}'"]+)*$""")
WORKERS_RE = re.compile(r"^(auto|[1-9][0-9]*)$")
# A request header name as proxy_set_header takes it (no underscore: Nginx
# drops such client headers by default, so there is nothing to clear).
HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
# The request headers every app location sets itself: clearing one would
# break the proxy, so none of them can be an identity header.
PROXY_HEADERS = ("host", "upgrade", "connection", "x-real-ip", "x-forwarded-for", "x-forwarded-proto")
# Where plain HTTP redirects: scheme://host[:port], nothing Nginx would read
# as a variable or the end of the directive.
REDIRECT_RE = re.compile(r"^https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]{1,5}))?/?$")
# Where forward auth asks: http(s)://host[:port]/path (proxy_pass takes it
# verbatim). Where it sends a browser: the same with an optional query, to
# which the template appends rd=. Neither may hold what Nginx would read as a
# variable, the end of the directive or a block ($ ; { } quotes, space), nor a
# fragment ('#'), after which rd= would never reach the server.
URL_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]{1,5}))?"
URL_PATH = r"""[^\s$;{}'"\\#?]"""
URL_QUERY = r"""[^\s$;{}'"\\#]"""
AUTH_URL_RE = re.compile(rf"^https?://{URL_HOST}/{URL_PATH}*$")
SIGNIN_URL_RE = re.compile(rf"^https?://{URL_HOST}(?:/{URL_PATH}*)?(?:\?{URL_QUERY}*)?$")
# The hashes Nginx's auth_basic_user_file reads on Debian: Apache's MD5
# ($apr1$), {SHA} and {SSHA} by Nginx itself, the rest through libxcrypt's
# crypt(): bcrypt, SHA-256 and SHA-512 crypt, yescrypt.
B64 = r"[./0-9A-Za-z]"
PASSWORD_HASH_RES = (
    re.compile(rf"^\$apr1\${B64}{{1,8}}\${B64}{{22}}$"),
    re.compile(rf"^\$2[aby]\$[0-9]{{2}}\${B64}{{53}}$"),
    re.compile(rf"^\$5\$(?:rounds=[0-9]+\$)?[^$:\s]{{0,16}}\${B64}{{43}}$"),
    re.compile(rf"^\$6\$(?:rounds=[0-9]+\$)?[^$:\s]{{0,16}}\${B64}{{86}}$"),
    re.compile(rf"^\$y\${B64}+\${B64}+\${B64}{{43}}$"),
    re.compile(r"^\{SHA\}[A-Za-z0-9+/]{27}=$"),
    re.compile(r"^\{SSHA\}[A-Za-z0-9+/]{28,}={0,2}$"),
)
HASH_FIX = ("store a hash instead, made with e.g. `openssl passwd -6` (or -apr1), `htpasswd -nB NAME`, "
            "or the password_hash('sha512') filter on a vaulted password")
# A user name is the text before the first ':' of an htpasswd line.
USER_RE = re.compile(r"^[^:\s]+$")
# Where the forward auth subrequest goes; each app's is this plus its name.
AUTH_LOCATION = "/_streamlit_ops_auth/"
LIMIT_FIX = "or raise LimitNOFILE for nginx.service in a systemd drop-in and restart Nginx (a reload keeps the old limit)"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def workers(processes, cpus: int) -> int:
    """The workers Nginx starts: one per usable CPU for 'auto'."""
    return cpus if str(processes) == "auto" else int(processes)


def connection_reserve(session_connections: int, deferred: bool) -> int:
    """Connections a worker keeps free beside session_connections.

    Without deferred on the listen, a worker with less than 1/16 of its
    worker_connections free closes the connections still waiting for their
    request (ngx_drain_connections), so new sessions fail from 15/16 on: the
    reserve is then at least a 15th of the session connections.
    """
    return CONNECTION_RESERVE if deferred else max(CONNECTION_RESERVE, _ceil_div(session_connections, 15))


def sizing(sessions: int, worker_count: int, reuseport: bool, connections=None, rlimit=None, deferred: bool = True) -> dict:
    """worker_connections and worker_rlimit_nofile for sessions over worker_count workers.

    The sessions spread over every worker with reuseport; without it one
    worker can accept nearly all of them, so it must hold them all. Explicit
    connections or rlimit win over the computed ones.
    """
    spread = worker_count if reuseport else 1
    per_session = CONNECTIONS_PER_SESSION * SPREAD_MARGIN[0]
    held = _ceil_div(per_session * sessions, SPREAD_MARGIN[1] * spread)
    computed = held + connection_reserve(held, deferred)
    worker_connections = int(connections) if connections is not None else computed
    even = _ceil_div(CONNECTIONS_PER_SESSION * sessions, worker_count)
    return {
        "workers": worker_count,
        "spread": spread,
        "worker_connections": worker_connections,
        "worker_rlimit_nofile": int(rlimit) if rlimit is not None else worker_connections + FD_RESERVE,
        # The least that holds the sessions on an even spread, without the margin.
        "min_worker_connections": even + connection_reserve(even, deferred),
    }


def settings_sizing(s: dict, cpus: int) -> dict:
    """sizing() for the role's normalized settings on a host with cpus CPUs."""
    return sizing(s["nginx_proxy_expected_sessions"], workers(s["nginx_proxy_worker_processes"], cpus), s["nginx_proxy_reuseport"],
                  s.get("nginx_proxy_worker_connections"), s.get("nginx_proxy_worker_rlimit_nofile"),
                  s.get("nginx_proxy_deferred_accept", True))


def capacity(configured: dict, cpus: int, reuseport: bool, nofile_soft: int, nofile_hard: int, deferred: bool = True) -> int:
    """Sessions an nginx.conf the role does not manage holds: its workers x min(connections, files) / 2
    (without deferred, new sessions fail once less than 1/16 of the connections are free)."""
    count = workers(configured.get("worker_processes") or 1, cpus)
    connections = configured.get("worker_connections") or NGINX_DEFAULT_CONNECTIONS
    if not deferred:
        connections -= _ceil_div(connections, 16)
    rlimit = configured.get("worker_rlimit_nofile") or 0
    # Workers keep the master's soft limit when worker_rlimit_nofile is unset or above the hard limit.
    files = rlimit if 0 < rlimit <= nofile_hard else nofile_soft
    spread = count if reuseport else 1
    return spread * min(connections, files) // CONNECTIONS_PER_SESSION


def origin_policy(app: dict) -> str:
    """An app's origin policy: its own, else strict when it lists origins (the
    role's behaviour before origin_policy existed), else same-origin."""
    return app.get("origin_policy") or ("strict" if app.get("origins") else "same-origin")


def _network(text) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(text), strict=True)
    except ValueError:
        return None


def _variable(header: str) -> str:
    """The Nginx variable name of a header: lowercase, '-' as '_'."""
    return header.lower().replace("-", "_")


def _auth(app: dict, key: int) -> dict | None:
    """What the templates need of an app's auth, without its password hashes:
    the resolved apps are loop items, and Ansible prints whole loop items with -v."""
    auth = app.get("auth")
    if not auth:
        return None
    if auth["type"] == "basic":
        return {"type": "basic", "realm": auth.get("realm") or "Restricted", "users": [u["name"] for u in auth.get("users") or []]}
    signin = auth["signin_url"]
    return {
        "type": "forward",
        "url": auth["url"],
        "location": AUTH_LOCATION + app["name"],
        # rd= the URL the browser asked for, as oauth2-proxy's start endpoint takes it.
        "signin": signin + ("&" if "?" in signin else "?") + "rd=",
        # Numbered, not named for app and header: Nginx refuses variable names
        # longer than its variables_hash_bucket_size (64 bytes with overhead).
        "headers": [
            {"name": header, "upstream": f"$upstream_http_{_variable(header)}", "var": f"$streamlit_ops_deploy_auth{key}_{j}"}
            for j, header in enumerate(sorted(auth.get("identity_headers") or {}, key=str.lower))
        ],
    }


def resolved_apps(apps: list[dict]) -> list[dict]:
    """The apps (normalized) as the templates read them: origin_policy decided,
    the origins as the host[:port] the guard compares (origins are lowercase
    and without a default port, see app_rules.origin_problem), the headers to
    clear once each whatever their case, less those forward auth sets itself
    (a second proxy_set_header for one header would send both)."""
    resolved = []
    for i, app in enumerate(apps):
        auth = _auth(app, i)
        own = {h["name"].lower() for h in auth["headers"]} if auth and auth["type"] == "forward" else set()
        headers = {str(h).lower(): str(h) for h in reversed(app.get("clear_headers") or []) if str(h).lower() not in own}
        allow = app.get("allow")
        loopback = ipaddress.ip_address("127.0.0.1")
        resolved.append({
            **app,
            "auth": auth,
            "allow": allow,
            "origin_policy": origin_policy(app),
            "origin_authorities": [str(o).split("://", 1)[-1] for o in app.get("origins") or []],
            "clear_headers": sorted(headers.values(), key=str.lower),
            # The smoke check reaches the app from 127.0.0.1 without credentials:
            # it can only prove that the app is closed to it (the doctor's access check).
            "access_only": bool(auth) or (allow is not None and not any(
                loopback in net for net in map(_network, allow) if net is not None and net.version == 4)),
        })
    return resolved


def htpasswd(apps: list[dict]) -> dict:
    """The htpasswd file of each app with basic auth (normalized, valid): name -> content."""
    # facts.yml names the files before validate has run: skip what is malformed.
    return {
        app["name"]: "".join(f"{user.get('name')}:{user.get('password_hash')}\n" for user in app["auth"].get("users") or [])
        for app in apps if isinstance(app.get("auth"), dict) and app["auth"].get("type") == "basic" and app.get("name")
    }


def network_problem(value) -> str | None:
    """Why a value is not an address or network Nginx's allow and set_real_ip_from take."""
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return f"{value!r} is not an IPv4 or IPv6 address or CIDR network: write e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"
    if _network(value) is None:
        return (f"{value!r} has bits set below its prefix length, which Nginx ignores: write the network, "
                f"{ipaddress.ip_network(str(value), strict=False)}")
    return None


def _hash_problem(value) -> str | None:
    if isinstance(value, str) and any(rule.fullmatch(value) for rule in PASSWORD_HASH_RES):
        return None
    # Never the value: it may be the password itself.
    return ("is not a password hash (a plain password?); the value is not shown. Nginx reads $apr1$, bcrypt ($2a$, $2b$, $2y$), "
            f"$5$, $6$, yescrypt ($y$), {{SHA}} and {{SSHA}} hashes: {HASH_FIX}")


def _basic_errors(label: str, auth: dict) -> list[str]:
    errors = [f"{label}.{field}: is for type forward only; remove it, or set {label}.type to forward"
              for field in ("url", "signin_url") if auth.get(field) is not None]
    realm = auth.get("realm")
    if isinstance(realm, str) and (not realm.strip() or re.search(r'["\\$]|[\x00-\x1f]', realm)):
        errors.append(f"{label}.realm: {realm!r} must be text without quotes, backslashes, '$' or control characters "
                      "(Nginx would read them as the end of the string or a variable): use e.g. 'Finance'")
    users = auth.get("users") or []
    if not users:
        errors.append(f"{label}.users: is empty, and nobody could log in: list at least one user, "
                      "e.g. [{name: alice, password_hash: '$6$...'}]")
    seen: dict = {}
    for j, user in enumerate(users):
        name = user["name"]
        if not USER_RE.match(name):
            hint = re.sub(r"[:\s]+", "-", name).strip("-") or "alice"
            errors.append(f"{label}.users[{j}].name: {name!r} holds ':' or a space, which an htpasswd line cannot: use e.g. {hint!r}")
        elif name in seen:
            errors.append(f"{label}.users[{j}].name: {name!r} is already used by {label}.users[{seen[name]}]; give each user their own name")
        seen.setdefault(name, j)
        problem = _hash_problem(user["password_hash"])
        if problem:
            errors.append(f"{label}.users[{j}].password_hash: {problem}")
    return errors


def _url_errors(at: str, url, pattern, role: str, shape: str, example: str, note: str = "") -> list[str]:
    """A forward-auth URL: required, of the pattern's shape, its port (group 1) in range."""
    if url is None:
        return [f"{at}: is required for type forward: {role}, e.g. {example}"]
    match = pattern.match(url) if isinstance(url, str) else None
    if not match or (match.group(1) and not 1 <= int(match.group(1)) <= 65535):
        return [f"{at}: {url!r} is not {shape}: write e.g. {example}{note}"]
    return []


def _forward_errors(label: str, auth: dict) -> list[str]:
    errors = []
    if auth.get("users"):
        errors.append(f"{label}.users: is for type basic only; remove it, or set {label}.type to basic")
    errors += _url_errors(f"{label}.url", auth.get("url"), AUTH_URL_RE,
                          "the endpoint Nginx asks (2xx or 401)",
                          "http(s)://host[:port]/path without spaces, quotes, '$', ';', braces, '?' or '#'",
                          "http://127.0.0.1:4180/oauth2/auth")
    errors += _url_errors(f"{label}.signin_url", auth.get("signin_url"), SIGNIN_URL_RE,
                          "where a browser without a session signs in",
                          "an http(s) URL without spaces, quotes, '$', ';', braces or '#'",
                          "https://auth.example.com/oauth2/start", " (rd= with the original URL is appended)")
    seen: dict = {}
    for header in auth.get("identity_headers") or {}:
        at = f"{label}.identity_headers[{header!r}]"
        if not isinstance(header, str) or not HEADER_RE.match(header):
            errors.append(f"{at}: {header!r} is not a header name: use letters, digits and '-', e.g. X-Auth-Request-User")
        elif header.lower() in PROXY_HEADERS:
            errors.append(f"{at}: {header!r} is set by the proxy itself ({', '.join(PROXY_HEADERS)}) and cannot carry an identity: "
                          "use the header the endpoint answers with, e.g. X-Auth-Request-User")
        elif header.lower() in seen:
            errors.append(f"{at}: {header!r} names the same header as {seen[header.lower()]!r} (header names ignore case); keep one")
        seen.setdefault(str(header).lower(), header)
    return errors


def _access_errors(label: str, app: dict) -> list[str]:
    errors = []
    auth = app.get("auth")
    if auth:
        rules = _basic_errors if auth["type"] == "basic" else _forward_errors
        errors += rules(f"{label}.auth", auth)
    allow = app.get("allow")
    if allow is not None and not allow:
        errors.append(f"{label}.allow: is empty, which would refuse every client: list client networks, e.g. [10.0.0.0/8], "
                      "or omit allow to let everyone in")
    for j, item in enumerate(allow or []):
        problem = network_problem(item)
        if problem:
            errors.append(f"{label}.allow[{j}]: {problem}")
    return errors


def _header_errors(label: str, headers: list) -> list[str]:
    errors = []
    for j, header in enumerate(headers or []):
        if not isinstance(header, str) or not HEADER_RE.match(header):
            errors.append(f"{label}.clear_headers[{j}] (server.trustedUserHeaders): {header!r} is not a header name: "
                          "use letters, digits and '-', e.g. X-Forwarded-User")
        elif header.lower() in PROXY_HEADERS:
            errors.append(
                f"{label}.clear_headers[{j}] (server.trustedUserHeaders): {header!r} is set by the proxy itself ({', '.join(PROXY_HEADERS)}) and cannot carry "
                "an identity: name another header in server.trustedUserHeaders, e.g. X-Forwarded-User"
            )
    return errors


def apps_errors(apps: list[dict], labels: list[str]) -> list[str]:
    """The rules of the apps (normalized), each message led by the app's label."""
    errors, names, paths = [], {}, {}
    for label, app in zip(labels, apps):
        for field, rule, seen in (("name", app_rules.name_problem, names), ("path", app_rules.path_problem, paths)):
            problem = rule(app[field])
            problem = problem + "." if problem else app_rules.first_use(seen, app[field], label, field)
            if problem:
                errors.append(f"{label}.{field}: {problem}")
        errors += _backend_errors(label, app["backends"])
        for field in ("max_upload_mb", "ping_interval"):
            if app[field] < 1:
                errors.append(f"{label}.{field}: {app[field]!r} is not a whole number of at least 1.")
        for j, origin in enumerate(app["origins"]):
            problem = app_rules.origin_problem(origin)
            if problem:
                errors.append(f"{label}.origins[{j}]: {problem}.")
        errors += _header_errors(label, app.get("clear_headers"))
        errors += _access_errors(label, app)
    return errors


def _backend_errors(label: str, backends: list[str]) -> list[str]:
    if not backends:
        return [f"{label}.backends: is empty: list at least one ADDRESS:PORT, e.g. 10.0.0.11:8501"]
    errors = []
    for j, backend in enumerate(backends):
        match = BACKEND_RE.match(backend)
        if not match or not 1 <= int(match.group(1)) <= 65535:
            errors.append(
                f"{label}.backends[{j}]: {backend!r} is not ADDRESS:PORT: write a host name, IPv4 address or "
                "[IPv6] address, then ':' and a port 1-65535, e.g. 10.0.0.11:8501"
            )
        elif backend in backends[:j]:
            errors.append(f"{label}.backends[{j}]: {backend!r} is listed twice: remove the duplicate")
    return errors


def _port_errors(s: dict, tls_server: bool) -> list[str]:
    errors = []
    for var in ("nginx_proxy_listen_port", "nginx_proxy_https_port"):
        if app_rules.port_problem(s[var]):
            errors.append(f"{var} {s[var]} is not a TCP port: use 1-65535")
    if not errors and tls_server and s["nginx_proxy_https_port"] == s["nginx_proxy_listen_port"]:
        errors.append(
            f"nginx_proxy_https_port {s['nginx_proxy_https_port']} equals nginx_proxy_listen_port: "
            "HTTPS and the plain HTTP redirect need two ports, e.g. 443 and 80"
        )
    return errors


def _tls_errors(s: dict, host: dict, found: dict) -> list[str]:
    cert, key = s.get("nginx_proxy_tls_certificate"), s.get("nginx_proxy_tls_certificate_key")
    errors = []
    if bool(cert) != bool(key):
        missing, given = ("nginx_proxy_tls_certificate_key", "nginx_proxy_tls_certificate") if cert else (
            "nginx_proxy_tls_certificate", "nginx_proxy_tls_certificate_key")
        errors.append(f"{missing} is not set, but {given} is: set both (PEM certificate and its key) for HTTPS, or neither for plain HTTP")
    for var in ("nginx_proxy_tls_certificate", "nginx_proxy_tls_certificate_key"):
        path = s.get(var)
        if not path:
            continue
        if s["nginx_proxy_tls_remote_src"]:
            if not host.get("paths", {}).get(path, {}).get("isreg"):
                errors.append(
                    f"{var} {path} is not a file on {host.get('name', 'the master')} (nginx_proxy_tls_remote_src is true): "
                    "give the path of the PEM file on the master, or set nginx_proxy_tls_remote_src to false to copy it from the controller"
                )
        elif not found.get(var):
            errors.append(
                f"{var} {path} is not a file on the controller: give the path of the PEM file there, "
                f"or set nginx_proxy_tls_remote_src to true if it is already on {host.get('name', 'the master')}"
            )
    return errors


def _sizing_errors(s: dict, nginx: dict, managed: bool) -> list[str]:
    sessions = s["nginx_proxy_expected_sessions"]
    if sessions < 1:
        return [f"nginx_proxy_expected_sessions {sessions} must be at least 1"]
    if not WORKERS_RE.match(str(s["nginx_proxy_worker_processes"])):
        return [f"nginx_proxy_worker_processes '{s['nginx_proxy_worker_processes']}' must be 'auto' or a number of workers, e.g. 2"]
    count = workers(s["nginx_proxy_worker_processes"], nginx["cpus"])
    size = settings_sizing(s, nginx["cpus"])
    connections, rlimit, hard = size["worker_connections"], size["worker_rlimit_nofile"], nginx["nofile_hard"]
    errors = []
    if s.get("nginx_proxy_worker_connections") is not None and connections < size["min_worker_connections"]:
        minimum = size["min_worker_connections"]
        reserve = minimum - _ceil_div(CONNECTIONS_PER_SESSION * sessions, count)
        errors.append(
            f"nginx_proxy_worker_connections {connections} cannot hold nginx_proxy_expected_sessions {sessions} on {count} workers: "
            f"each session takes 2 connections, so each worker needs at least 2 * {sessions} / {count} + {reserve} = {minimum}"
            + ("" if s.get("nginx_proxy_deferred_accept", True) else
               " (with nginx_proxy_deferred_accept false a 16th of them stays free: Nginx closes new connections beyond that)")
            + ". "
            f"Raise it to {minimum} or more, leave it null to compute it, or lower nginx_proxy_expected_sessions"
        )
    if s.get("nginx_proxy_worker_rlimit_nofile") is not None and rlimit < connections:
        errors.append(
            f"nginx_proxy_worker_rlimit_nofile {rlimit} is below worker_connections {connections}, and every connection is an open file: "
            f"use at least {connections + FD_RESERVE} or leave it null to compute it"
        )
    if managed and rlimit > hard:
        errors.append(_above_hard_limit(s, size, sessions, hard, nginx["nofile_source"]))
    return errors


def _above_hard_limit(s: dict, size: dict, sessions: int, hard: int, source: str) -> str:
    rlimit, connections = size["worker_rlimit_nofile"], size["worker_connections"]
    if s.get("nginx_proxy_worker_rlimit_nofile") is not None:
        return (
            f"nginx_proxy_worker_rlimit_nofile {rlimit} is above the hard open-file limit {hard} of {source}. "
            f"nginx -t would accept it, but every worker would log 'setrlimit(RLIMIT_NOFILE, {rlimit}) failed' and keep the old limit. "
            f"Set it to at most {hard}, {LIMIT_FIX}"
        )
    if s.get("nginx_proxy_worker_connections") is not None:
        return (
            f"nginx_proxy_worker_connections {connections} needs worker_rlimit_nofile {connections} + {FD_RESERVE} = {rlimit}, "
            f"above the hard open-file limit {hard} of {source}. Lower it to at most {hard - FD_RESERVE}, {LIMIT_FIX}"
        )
    spread = size["spread"]
    files = hard - FD_RESERVE
    # The session connections a worker of `files` connections holds beside its reserve.
    usable = files - CONNECTION_RESERVE if s.get("nginx_proxy_deferred_accept", True) else min(files - CONNECTION_RESERVE, files * 15 // 16)
    per_session = CONNECTIONS_PER_SESSION * SPREAD_MARGIN[0]
    max_sessions = max(0, usable * spread * SPREAD_MARGIN[1] // per_session)
    more_workers = _ceil_div(per_session * sessions, SPREAD_MARGIN[1] * max(usable, 1))
    spread_text = f"{spread} workers" if spread > 1 else "1 worker, as nginx_proxy_reuseport is false"
    fix = (f", set nginx_proxy_worker_processes to {more_workers} or more" if s["nginx_proxy_reuseport"] else
           ", set nginx_proxy_reuseport to true (or, if another server on this port already sets reuseport, "
           "set nginx_proxy_worker_connections yourself)")
    return (
        f"nginx_proxy_expected_sessions {sessions} needs worker_rlimit_nofile {rlimit} per worker "
        f"(sessions spread over {spread_text}; see the role's defaults/main.yml), above the hard open-file limit {hard} "
        f"of {source}. Lower nginx_proxy_expected_sessions to at most {max_sessions}{fix}, {LIMIT_FIX}"
    )


def _main_config_errors(s: dict, nginx: dict, marker_md5: dict) -> list[str]:
    size = settings_sizing(s, nginx["cpus"])
    yourself = (
        f" Set nginx_proxy_manage_main_config to false and set worker_rlimit_nofile {size['worker_rlimit_nofile']} "
        f"and, in events {{}}, worker_connections {size['worker_connections']} in nginx.conf yourself"
    )
    if nginx["codename"] not in MAIN_CONFIG_RELEASES:
        return [
            "nginx_proxy_manage_main_config is true, but the role has nginx.conf templates only for Debian "
            f"{' and '.join(MAIN_CONFIG_RELEASES)}, not for '{nginx['codename']}'." + yourself
        ]
    md5 = nginx["main_config_md5"]
    if md5 and md5 != nginx["stock_md5"] and not nginx["main_config_marker"]:
        return [
            f"nginx_proxy_manage_main_config is true, but {marker_md5['file']} is neither Debian's stock file nor one this role wrote, "
            f"so it is left alone (md5 {md5}, dpkg records {nginx['stock_md5'] or 'none'})." + yourself
            + ", or restore Debian's nginx.conf to let the role manage it"
        ]
    return []


def _edge_errors(s: dict) -> list[str]:
    errors = [f"nginx_proxy_trusted_proxies[{j}]: {problem}; list the addresses of the load balancers in front of this master"
              for j, problem in enumerate(map(network_problem, s.get("nginx_proxy_trusted_proxies") or [])) if problem]
    timeout = s.get("nginx_proxy_edge_idle_timeout")
    if timeout is not None and timeout < 1:
        errors.append(f"nginx_proxy_edge_idle_timeout {timeout} must be the idle timeout in seconds of the load balancer or CDN "
                      "in front (e.g. 60 for an AWS ALB, 100 for Cloudflare), or null when there is none")
    return errors


def settings_errors(s: dict, host: dict, found: dict) -> list[str]:
    """Every rule the nginx_proxy_* settings (normalized) break on this host.

    ``host`` is what the host_info module read (with ``name``, the inventory
    name); ``found`` maps each TLS variable to whether Ansible finds its file
    on the controller.
    """
    nginx = host["nginx"]
    server = s["nginx_proxy_server"]
    tls_server = bool(s.get("nginx_proxy_tls_certificate")) and server
    managed = s["nginx_proxy_manage_main_config"] and server
    errors = apps_errors(s["nginx_proxy_apps"], [f"nginx_proxy_apps[{i}]" for i in range(len(s["nginx_proxy_apps"]))])
    # The site playbook says this in its own words (a public origin it cannot derive).
    errors += [f"nginx_proxy_apps[{i}].origins: is empty, but origin_policy is strict: list the public origins, e.g. https://apps.example.com"
               for i, app in enumerate(s["nginx_proxy_apps"]) if app.get("origin_policy") == "strict" and not app["origins"]]
    errors += _port_errors(s, tls_server)
    if not SERVER_NAME_RE.match(s["nginx_proxy_server_name"]):
        errors.append(
            f"nginx_proxy_server_name '{s['nginx_proxy_server_name']}' must be names separated by single spaces, "
            "without ';', '{', '}' or quotes: use e.g. '_' or 'example.com www.example.com'"
        )
    redirect = s.get("nginx_proxy_redirect_url")
    match = REDIRECT_RE.match(redirect) if isinstance(redirect, str) else None
    if redirect is not None and (not match or (match.group(1) and not 1 <= int(match.group(1)) <= 65535)):
        errors.append(
            f"nginx_proxy_redirect_url {redirect!r} is not 'http(s)://host[:port]' (no path): write the address users browse to, "
            "e.g. 'https://apps.example.com:8443', or leave it null to redirect to the requested host"
        )
    if s["nginx_proxy_connect_timeout"] < 1:
        errors.append(f"nginx_proxy_connect_timeout {s['nginx_proxy_connect_timeout']} must be at least 1 (seconds)")
    errors += _tls_errors(s, host, found)
    errors += tls.settings_errors(s, found)
    if s["nginx_proxy_hsts_max_age"] < 0:
        errors.append(f"nginx_proxy_hsts_max_age {s['nginx_proxy_hsts_max_age']} must be 0 (no header) or a number of seconds, e.g. 31536000")
    errors += _edge_errors(s)
    errors += _sizing_errors(s, nginx, managed)
    if s["nginx_proxy_upstream_keepalive"] < 0:
        errors.append(f"nginx_proxy_upstream_keepalive {s['nginx_proxy_upstream_keepalive']} must be 0 (no pool) or more")
    if managed and WORKERS_RE.match(str(s["nginx_proxy_worker_processes"])) and s["nginx_proxy_expected_sessions"] >= 1:
        errors += _main_config_errors(s, nginx, {"file": host.get("main_config_file", "/etc/nginx/nginx.conf")})
    return errors

# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Turn the user's ``streamlit_apps`` into each role's variables, and check it.

One definition of the rules serves the site playbook (messages name
``streamlit_apps[i].field``), the streamlit_app role
(``streamlit_app_containers[i].field``) and the nginx_proxy role
(``nginx_proxy_apps[i].field``), so they can never disagree.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.docker_archive import ArchiveError, archive_image_id
from ansible_collections.streamlit_ops.deploy.plugins.module_utils.streamlit_options import OPTIONS, STREAMLIT_VERSION

# Port Streamlit listens on inside the container; the published port is per app.
CONTAINER_PORT = 8501

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# Goes verbatim into an Nginx location and Streamlit's baseUrlPath. A '.' or
# '..' segment is never matched: Nginx normalises it away.
PATH_RE = re.compile(r"^/(?:(?!\.\.?/)[A-Za-z0-9._-]+/)*$")
# Host name, IPv4 address or [IPv6] address, then ':PORT'.
BACKEND_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def name_problem(name) -> str | None:
    """Why an app name is unusable, with a suggestion; None when it is fine."""
    if isinstance(name, str) and NAME_RE.match(name):
        return None
    hint = re.sub(r"[^a-z0-9-]+", "-", str(name or "").lower()).strip("-") or "app"
    return f"{name!r} may only hold lowercase letters, digits and '-' (not at either end): use e.g. '{hint}'"


def path_problem(path) -> str | None:
    """Why an app path is unusable, with a suggestion; None when it is fine."""
    if isinstance(path, str) and PATH_RE.match(path):
        return None
    segments = [re.sub(r"[^A-Za-z0-9._-]+", "", part) for part in str(path or "").split("/")]
    kept = "/".join(part for part in segments if part not in ("", ".", ".."))
    hint = f"/{kept}/" if kept else "/streamlitApp/"
    return (
        f"{path!r} must start and end with '/' and hold only letters, digits, '-', '_', '.' and '/' "
        f"(no empty, '.' or '..' segment): use e.g. '{hint}'"
    )


def _first_use(seen: dict, key, index: int, varname: str, what: str) -> str | None:
    """Record key for index; if an earlier item has it, say so."""
    owner = seen.setdefault(key, index)
    if owner == index:
        return None
    return f"{key!r} is already used by {varname}[{owner}]: give every app its own {what}"


def _env_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def app_path(app: dict) -> str:
    return app.get("path") or f"/{app['name']}/"


# Per-app fields with a fixed default. origin_policy defaults to the site's.
DEFAULTS = {
    "max_upload_mb": 200,
    "ping_interval": 30,
    "sticky": "cookie",
    "log_max_size": "10m",
    "log_max_files": 3,
    "pull": "missing",
}
STICKY = ("cookie", "ip_hash", "none")
ORIGIN_POLICIES = ("open", "strict")
PULL_POLICIES = ("missing", "always")
# Where the container finds secrets_file: a directory mount, so a replaced file
# is seen through it (a single-file bind mount keeps the old inode).
SECRETS_DIR = "/run/streamlit_ops"
SECRETS_PATH = f"{SECRETS_DIR}/secrets.toml"

# Streamlit options the collection sets itself, and the field that sets them.
MANAGED_OPTIONS = {
    "server.headless": "nothing: the collection always runs Streamlit headless",
    "server.port": "port (the container always listens on 8501)",
    "server.address": "port (the container listens on all its addresses)",
    "server.baseUrlPath": "path",
    "server.maxUploadSize": "max_upload_mb",
    "server.websocketPingInterval": "ping_interval",
    "server.cookieSecret": "cookie_secret",
    "server.enableCORS": "origin_policy",
    "server.corsAllowedOrigins": "origin_policy (origins come from streamlit_public_url or streamlit_server_name)",
    "server.allowedHosts": "origin_policy (hosts come from streamlit_public_url or streamlit_server_name)",
    "browser.serverAddress": "origin_policy (the address comes from streamlit_public_url or streamlit_server_name)",
    "browser.serverPort": "origin_policy (the port comes from streamlit_public_url or the master's ports)",
    "server.enableXsrfProtection": "nothing: XSRF protection stays on",
    "secrets.files": "secrets_file",
    "server.sslCertFile": "streamlit_tls_certificate (TLS ends on the master)",
    "server.sslKeyFile": "streamlit_tls_certificate_key (TLS ends on the master)",
    "browser.gatherUsageStats": "nothing: the collection turns usage statistics off",
}


def option_env_name(option: str) -> str:
    """The variable Streamlit reads an option from (its ConfigOption.env_var)."""
    return OPTIONS[option][2]


def _option_value(value) -> str:
    # Streamlit's CLI reads a list-valued option from its variable split on
    # whitespace (click's default envvar_list_splitter), so items never hold any.
    if isinstance(value, (list, tuple)):
        return " ".join(_env_value(v) for v in value)
    return _env_value(value)


def _host_port(origin: str) -> tuple[str, int]:
    parts = urlsplit(origin)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def managed_env(app: dict) -> dict[str, str]:
    """The Streamlit settings the collection owns, as environment variables."""
    env = {
        "STREAMLIT_SERVER_HEADLESS": "true",
        "STREAMLIT_SERVER_BASE_URL_PATH": app_path(app).strip("/"),
        "STREAMLIT_SERVER_ADDRESS": "0.0.0.0",
        "STREAMLIT_SERVER_PORT": str(CONTAINER_PORT),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "true",
        "STREAMLIT_SERVER_MAX_UPLOAD_SIZE": str(app.get("max_upload_mb", DEFAULTS["max_upload_mb"])),
        "STREAMLIT_SERVER_WEBSOCKET_PING_INTERVAL": str(app.get("ping_interval", DEFAULTS["ping_interval"])),
    }
    origins = app.get("public_origins") or []
    if app.get("origin_policy", "open") == "strict" and origins:
        hosts = list(dict.fromkeys(_host_port(o)[0] for o in origins))
        host, port = _host_port(origins[0])
        env.update(
            {
                "STREAMLIT_SERVER_ENABLE_CORS": "true",
                "STREAMLIT_SERVER_CORS_ALLOWED_ORIGINS": " ".join(origins),
                "STREAMLIT_SERVER_ALLOWED_HOSTS": " ".join(hosts),
                "STREAMLIT_BROWSER_SERVER_ADDRESS": host,
                "STREAMLIT_BROWSER_SERVER_PORT": str(port),
            }
        )
    else:
        # The mission's fix: the app is reached through the proxy's origin.
        env["STREAMLIT_SERVER_ENABLE_CORS"] = "false"
    if app.get("cookie_secret"):
        env["STREAMLIT_SERVER_COOKIE_SECRET"] = str(app["cookie_secret"])
    if app.get("secrets_file"):
        env["STREAMLIT_SECRETS_FILES"] = SECRETS_PATH
    if app.get("forwarded_allow_ips"):
        # Uvicorn trusts X-Forwarded-For/-Proto only from these; it does not resolve names.
        env["FORWARDED_ALLOW_IPS"] = ",".join(map(str, app["forwarded_allow_ips"]))
    return env


# Every variable managed_env can set, whatever the app's settings.
RESERVED_ENV = frozenset(
    {option_env_name(option) for option in MANAGED_OPTIONS} | {"FORWARDED_ALLOW_IPS"}
)


def container_env(app: dict) -> dict[str, str]:
    """The container's environment: the user's extras, options, then the managed settings."""
    env = {str(key): _env_value(value) for key, value in (app.get("env") or {}).items()}
    env.update({option_env_name(key): _option_value(value) for key, value in (app.get("options") or {}).items()})
    env.update(managed_env(app))
    return env


def app_hosts(app: dict, children: list[str]) -> list[str]:
    return list(app.get("hosts") or children)


def _port(value):
    if isinstance(value, bool):
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 1 <= port <= 65535 else None


def _int_at_least(value, low):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


MEMORY_RE = re.compile(r"^([0-9]+)([bkmg]?)$", re.IGNORECASE)
LOG_SIZE_RE = re.compile(r"^[1-9][0-9]*[kmg]$")
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
VOLUME_MODES = ("ro", "rw")
REGISTRY_KEYS = ("url", "username", "password")
UNIT_BYTES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def option_problem(name, value) -> str | None:
    """Why a Streamlit option cannot be set through options; None when it can."""
    if not isinstance(name, str) or name not in OPTIONS:
        close = difflib.get_close_matches(str(name), OPTIONS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "see 'streamlit config show' for the names"
        return f"{name!r} is not a Streamlit {STREAMLIT_VERSION} option (Streamlit would ignore it silently); {hint}"
    if name in MANAGED_OPTIONS:
        field = MANAGED_OPTIONS[name]
        fix = f"use {field}" if not field.startswith("nothing") else f"remove it ({field.split(': ', 1)[1]})"
        return f"{name!r} is set by the collection; {fix}"
    kind, multiple, _ = OPTIONS[name]
    if multiple:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip() for v in items) or any(
            any(c.isspace() for c in str(v)) for v in items
        ):
            return f"{name} takes a list of strings without spaces (Streamlit splits its variable on whitespace)"
        return None
    if isinstance(value, (list, dict)) or value is None:
        return f"{name} takes a single {kind} here; lists and tables only fit a config.toml baked into the image"
    if kind == "bool" and not isinstance(value, bool):
        return f"{name} takes true or false, got {value!r}"
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{name} takes an integer, got {value!r}"
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{name} takes a number, got {value!r}"
    return None


def volume_problem(volume) -> str | None:
    """Why a 'SRC:DEST[:ro|rw]' volume string is unusable; None when it is fine."""
    parts = volume.split(":") if isinstance(volume, str) else []
    if len(parts) == 3 and parts[2] not in VOLUME_MODES:
        return f"{volume!r} ends in {parts[2]!r}: the mode is 'ro' or 'rw'"
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
        return f"{volume!r} is not 'SRC:DEST[:ro|rw]' with an absolute DEST, e.g. '/srv/data:/data:ro' or 'appdata:/data'"
    if parts[1].rstrip("/") == SECRETS_DIR or parts[1].startswith(SECRETS_DIR + "/"):
        return f"{volume!r} mounts over {SECRETS_DIR}, where the collection puts secrets_file; choose another DEST"
    return None


def _field_errors(app: dict, at: str, site) -> list[str]:
    """The rules of the fields added for production shapes, one message each."""
    errors = []
    for field in ("max_upload_mb", "ping_interval", "log_max_files"):
        value = app.get(field)
        if value is not None and not _int_at_least(value, 1):
            errors.append(f"{at}.{field}: {value!r} is not a whole number of at least 1; set e.g. {DEFAULTS[field]}.")
    for field, choices in (("sticky", STICKY), ("origin_policy", ORIGIN_POLICIES), ("pull", PULL_POLICIES)):
        value = app.get(field)
        if value is not None and value not in choices:
            errors.append(f"{at}.{field}: {value!r} is not one of {', '.join(choices)}; pick one or remove the field.")

    # In the playbook's view a strict global without origins is site_errors' message.
    policy = app.get("origin_policy") if site is not None else app.get("origin_policy", "open")
    if policy == "strict":
        origins = public_origins(site) if site is not None else app.get("public_origins")
        if not origins:
            fix = (
                "set streamlit_public_url, or streamlit_server_name to the name users browse to"
                if site is not None
                else "set public_origins to the 'scheme://host[:port]' origins users browse from"
            )
            errors.append(f"{at}.origin_policy: strict needs a public origin and none can be derived; {fix}.")
        elif site is None:
            bad = [o for o in origins if origin_problem(o)] if isinstance(origins, list) else [origins]
            if bad:
                errors.append(f"{at}.public_origins: {bad[0]!r} is not an origin; write 'scheme://host[:port]', e.g. 'https://apps.example.com'.")

    options = app.get("options")
    if options is not None:
        if not isinstance(options, dict):
            errors.append(f"{at}.options: must be a dict of Streamlit option names to values, e.g. {{'theme.base': 'dark'}}.")
        else:
            for name, value in options.items():
                problem = option_problem(name, value)
                if problem:
                    errors.append(f"{at}.options: {problem}" + ("" if problem.endswith("?") else "."))

    secrets_file = app.get("secrets_file")
    if secrets_file is not None and (not isinstance(secrets_file, str) or not os.path.isfile(secrets_file)):
        errors.append(f"{at}.secrets_file: {secrets_file!r} is not a file on the controller; give the path of a secrets.toml.")

    cookie_secret = app.get("cookie_secret")
    if cookie_secret is not None and (not isinstance(cookie_secret, str) or len(cookie_secret.strip()) < 16):
        errors.append(f"{at}.cookie_secret: must be a string of at least 16 characters; e.g. the output of 'openssl rand -hex 32', vaulted.")

    memory = app.get("memory")
    if memory is not None:
        match = MEMORY_RE.match(str(memory)) if isinstance(memory, (str, int)) and not isinstance(memory, bool) else None
        if not match or int(match.group(1)) * UNIT_BYTES[match.group(2).lower()] < 6 * 1024**2:
            errors.append(f"{at}.memory: {memory!r} is not a size of at least 6m (Docker's minimum); write e.g. '512m' or '1g'.")
    cpus = app.get("cpus")
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0):
        errors.append(f"{at}.cpus: {cpus!r} is not a positive number of CPUs; write e.g. 1.5.")
    log_max_size = app.get("log_max_size")
    if log_max_size is not None and not (isinstance(log_max_size, str) and LOG_SIZE_RE.match(log_max_size)):
        errors.append(f"{at}.log_max_size: {log_max_size!r} is not a size with a unit k, m or g; write e.g. '10m'.")

    registry = app.get("registry")
    if registry is not None:
        if not isinstance(registry, dict):
            errors.append(f"{at}.registry: must be a dict with username, password and optional url.")
        else:
            unknown = sorted(map(str, set(registry) - set(REGISTRY_KEYS)))
            if unknown:
                errors.append(f"{at}.registry: unknown keys {', '.join(unknown)}; only url, username and password are read.")
            for key in ("username", "password"):
                if not isinstance(registry.get(key), str) or not registry.get(key):
                    errors.append(f"{at}.registry.{key}: is missing; set it (vault the password).")
            url = registry.get("url")
            if url is not None and (not isinstance(url, str) or not url.strip() or any(c.isspace() for c in url)):
                errors.append(f"{at}.registry.url: {url!r} is not a registry address; write e.g. 'registry.example.com', or omit it for Docker Hub.")

    volumes = app.get("volumes")
    if volumes is not None:
        if not isinstance(volumes, list):
            errors.append(f"{at}.volumes: must be a list of 'SRC:DEST[:ro|rw]' strings.")
        else:
            for j, volume in enumerate(volumes):
                problem = volume_problem(volume)
                if problem:
                    errors.append(f"{at}.volumes[{j}]: {problem}.")

    user = app.get("user")
    if user is not None and not (isinstance(user, (str, int)) and not isinstance(user, bool) and USER_RE.match(str(user))):
        errors.append(f"{at}.user: {user!r} is not a user; write NAME, UID or UID:GID, e.g. '1000:1000'.")
    return errors


def apps_errors(apps, children=None, varname="streamlit_apps", site=None):
    """Every rule broken by ``apps``, one message each naming the field and the fix.

    ``children`` is the list of child hosts for the playbook's view (apps may
    name ``hosts``); ``None`` means one host runs every item (the role's view).
    ``site`` is the site-wide dict the playbook builds (origin policy and public
    origins); ``None`` is the role's view, where items carry public_origins.
    """
    if not isinstance(apps, list):
        return [f"{varname}: must be a list of apps, got {type(apps).__name__}; see inventory.example."]
    if children is not None and not apps:
        # The master needs at least one location; an empty list would strip the
        # children and only then fail on the master.
        return [f"{varname}: is empty; list at least one app (name, image, port), see inventory.example."]
    errors = []
    names, paths, ports = {}, {}, {}
    for i, app in enumerate(apps):
        at = f"{varname}[{i}]"
        if not isinstance(app, dict):
            errors.append(f"{at}: must be a dict with name, image and port.")
            continue

        name = app.get("name")
        problem = name_problem(name) or _first_use(names, name, i, varname, "name")
        if problem:
            errors.append(f"{at}.name: {problem}")
        if name_problem(name):
            name = None

        path = app.get("path") if app.get("path") is not None else (f"/{name}/" if name else None)
        if path is not None:
            problem = path_problem(path) or _first_use(paths, path, i, varname, "path")
            if problem:
                errors.append(f"{at}.path: {problem}")

        image = app.get("image")
        if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
            errors.append(f"{at}.image: {image!r} is not an image reference; set it, e.g. 'registry.example.com/app:1.0'.")
            image = None

        archive = app.get("image_archive")
        if archive is not None:
            if not isinstance(archive, str) or not os.path.isfile(archive):
                errors.append(
                    f"{at}.image_archive: {archive!r} is not a file on the controller; "
                    "give the path of a 'docker save' tarball or remove the field to pull the image."
                )
            elif image is not None:
                try:
                    archive_image_id(archive, image)
                except ArchiveError as exc:
                    errors.append(f"{at}.image_archive: {exc}; save the image under the tag given in {at}.image.")

        hosts = [None]
        if children is not None:
            hosts = app.get("hosts")
            if hosts is None:
                hosts = list(children)
            elif not isinstance(hosts, list) or not hosts:
                errors.append(f"{at}.hosts: must be a non-empty list of hosts from the group streamlit_children, or omitted for all.")
                hosts = []
            else:
                unknown = [h for h in hosts if h not in children]
                if unknown:
                    errors.append(
                        f"{at}.hosts: {', '.join(map(str, unknown))} not in the group streamlit_children; "
                        "add them to that group or remove them from the list."
                    )
                if len(set(map(str, hosts))) != len(hosts):
                    errors.append(f"{at}.hosts: lists a host twice; list each child once.")
                hosts = [h for h in hosts if h in children]

        port = _port(app.get("port"))
        if port is None:
            errors.append(f"{at}.port: {app.get('port')!r} is not a port; set an integer from 1 to 65535.")
        else:
            for host in dict.fromkeys(hosts):
                owner = ports.setdefault((host, port), i)
                if owner != i:
                    where = f" on {host}" if host else ""
                    errors.append(f"{at}.port: {port} is already used by {varname}[{owner}]{where}; give each app on a child its own port.")

        env = app.get("env")
        if env is not None:
            if not isinstance(env, dict):
                errors.append(f"{at}.env: must be a dict of variable names to values.")
            else:
                for key in env:
                    if not isinstance(key, str) or not ENV_KEY_RE.match(key):
                        errors.append(f"{at}.env: {key!r} is not a valid environment variable name.")
                    elif key in RESERVED_ENV:
                        errors.append(
                            f"{at}.env: {key} is set by the collection; remove it from env and use the app's field for it "
                            "(path, max_upload_mb, ping_interval, cookie_secret, origin_policy, secrets_file)."
                        )
                    elif isinstance(env[key], (dict, list)):
                        errors.append(f"{at}.env: the value of {key} must be a string, number or boolean.")

        command = app.get("command")
        if command is not None and not (
            (isinstance(command, str) and command.strip())
            or (isinstance(command, list) and command and all(isinstance(c, str) for c in command))
        ):
            errors.append(f"{at}.command: must be a non-empty string or list of strings, e.g. ['streamlit', 'run', 'app.py'].")

        errors.extend(_field_errors(app, at, site))
    return errors


def proxy_apps_errors(apps, varname="nginx_proxy_apps"):
    """The nginx_proxy role's view: the same name and path rules, and backends."""
    if not apps:
        return [f"{varname} is empty: list at least one app as {{name: ..., path: /app/, backends: [ADDRESS:PORT]}}"]
    errors = []
    names, paths = {}, {}
    for i, app in enumerate(apps):
        at = f"{varname}[{i}]"
        for field, rule, seen in (("name", name_problem, names), ("path", path_problem, paths)):
            value = app.get(field)
            problem = rule(value) or _first_use(seen, value, i, varname, field)
            if problem:
                errors.append(f"{at}.{field}: {problem}")
        backends = app.get("backends")
        if isinstance(backends, str):
            errors.append(f"{at}.backends: is a string: write a YAML list, e.g. ['{backends}']")
            continue
        if not backends:
            errors.append(f"{at}.backends: is empty: list at least one ADDRESS:PORT, e.g. 10.0.0.11:8501")
            continue
        for j, backend in enumerate(map(str, backends)):
            match = BACKEND_RE.match(backend)
            if not match or not 1 <= int(match.group(1)) <= 65535:
                errors.append(
                    f"{at}.backends[{j}]: {backend!r} is not ADDRESS:PORT: write a host name, IPv4 address or "
                    "[IPv6] address, then ':' and a port 1-65535, e.g. 10.0.0.11:8501"
                )
            elif backend in map(str, backends[:j]):
                errors.append(f"{at}.backends[{j}]: {backend!r} is listed twice: remove the duplicate")
        errors.extend(_proxy_field_errors(app, at))
    return errors


def _proxy_field_errors(app: dict, at: str) -> list[str]:
    errors = []
    for field in ("max_upload_mb", "ping_interval"):
        value = app.get(field, DEFAULTS[field])
        if not _int_at_least(value, 1):
            errors.append(f"{at}.{field}: {value!r} is not a whole number of at least 1: set e.g. {DEFAULTS[field]}")
    sticky = app.get("sticky", DEFAULTS["sticky"])
    if sticky not in STICKY:
        errors.append(f"{at}.sticky: {sticky!r} is not one of {', '.join(STICKY)}: pick one")
    origins = app.get("origins", [])
    if not isinstance(origins, list):
        errors.append(f"{at}.origins: must be a list of 'scheme://host[:port]' strings, [] for any origin")
    else:
        for j, origin in enumerate(origins):
            problem = origin_problem(origin)
            if problem:
                errors.append(f"{at}.origins[{j}]: {problem}")
    return errors


ORIGIN_RE = re.compile(r"^(https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")


def origin_problem(origin) -> str | None:
    """Why a value is not a browser Origin as the proxy and Streamlit compare it."""
    match = ORIGIN_RE.match(origin) if isinstance(origin, str) else None
    if not match or (match.group(3) and not 1 <= int(match.group(3)) <= 65535):
        return f"{origin!r} is not 'scheme://host[:port]' (http or https, lowercase host, no path): write e.g. 'https://apps.example.com'"
    default = "443" if match.group(1) == "https" else "80"
    if match.group(3) == default:
        return f"{origin!r} names the default port, which browsers leave out of Origin: write '{match.group(1)}://{match.group(2)}'"
    return None


def _origin(scheme: str, host: str, port) -> str:
    default = 443 if scheme == "https" else 80
    host = f"[{host}]" if ":" in host else host.lower()
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def _server_names(site: dict) -> list[str]:
    names = site.get("server_name") or "_"
    names = names.split() if isinstance(names, str) else [str(n) for n in names]
    # '_' is the catch-all; '*.x', 'x.*', '.x' and '~regex' name no single origin.
    return [n for n in names if n not in ("_", "") and "*" not in n and not n.startswith((".", "~"))]


def public_origins(site) -> list[str]:
    """The 'scheme://host[:port]' origins users browse to: public_url, else the server names."""
    site = site or {}
    url = site.get("public_url")
    if url:
        parts = urlsplit(str(url).strip())
        try:
            return [_origin(parts.scheme.lower(), parts.hostname, parts.port)] if parts.hostname else []
        except ValueError:  # a bad port: site_errors says so
            return []
    tls = bool(site.get("tls"))
    scheme = "https" if tls else "http"
    port = site.get("https_port", 443) if tls else site.get("http_port", 80)
    return list(dict.fromkeys(_origin(scheme, name, port) for name in _server_names(site)))


def site_errors(site) -> list[str]:
    """The rules of the site-wide globals, one message each naming the variable and the fix."""
    if not isinstance(site, dict):
        return ["__streamlit_site: must be a dict built by the site playbook."]
    errors = []
    policy = site.get("origin_policy", "open")
    if policy not in ORIGIN_POLICIES:
        errors.append(f"streamlit_origin_policy: {policy!r} is not one of {', '.join(ORIGIN_POLICIES)}; pick one.")
    url = site.get("public_url")
    if url:
        parts = urlsplit(str(url).strip())
        try:
            port_ok = parts.port is None or 1 <= parts.port <= 65535
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or parts.path not in ("", "/") or parts.query:
            errors.append(
                f"streamlit_public_url: {url!r} is not 'http(s)://host[:port]' (no path); "
                "write the address users browse to, e.g. 'https://apps.example.com:8443'."
            )
    for var, key in (("streamlit_http_port", "http_port"), ("streamlit_https_port", "https_port")):
        if key in site and _port(site[key]) is None:
            errors.append(f"{var}: {site[key]!r} is not a port; set an integer from 1 to 65535.")
    if site.get("tls") and _port(site.get("http_port", 80)) == _port(site.get("https_port", 443)):
        errors.append("streamlit_https_port: equals streamlit_http_port; HTTPS and the redirect from HTTP need two ports.")
    cert, key = site.get("tls_certificate"), site.get("tls_certificate_key")
    if bool(cert) != bool(key):
        missing = "streamlit_tls_certificate_key" if cert else "streamlit_tls_certificate"
        errors.append(f"{missing}: is not set while its pair is; set both PEM paths, or neither for plain HTTP.")
    if policy == "strict" and not public_origins(site):
        errors.append(
            "streamlit_origin_policy: strict needs a public origin; set streamlit_public_url, or streamlit_server_name "
            "to the name users browse to (not '_', a wildcard or a regex)."
        )
    addresses = site.get("proxy_addresses")
    if addresses is not None:
        if not isinstance(addresses, list) or not addresses:
            errors.append("streamlit_proxy_addresses: must be a non-empty list of the master's IP addresses, or null for its own.")
        else:
            for address in addresses:
                try:
                    ipaddress.ip_network(str(address), strict=False)
                except ValueError:
                    errors.append(
                        f"streamlit_proxy_addresses: {address!r} is not an IP address or network; "
                        "uvicorn does not resolve names, so list the IPs the master connects from."
                    )
    secrets = site.get("cookie_secrets")
    if secrets is not None and not isinstance(secrets, dict):
        errors.append("__streamlit_site.cookie_secrets: must be a dict of app name to secret.")
    return errors


def address_errors(address, host, varname="streamlit_child_address"):
    """An upstream address must be an IP: a name that stops resolving breaks `nginx -t`."""
    try:
        ipaddress.ip_address(str(address))
    except ValueError:
        return [f"{varname} of {host}: {address!r} is not an IP address; set it to the address the master reaches {host} at."]
    return []


# Fields the streamlit_app role reads from each streamlit_apps item as they are.
CHILD_FIELDS = (
    "name", "image", "image_archive", "env", "command", "options", "secrets_file", "memory", "cpus",
    "registry", "volumes", "user",
)


def app_policy(app: dict, site) -> str:
    return app.get("origin_policy") or (site or {}).get("origin_policy") or "open"


def child_containers(apps, host, children, site=None):
    """The apps one child runs, with defaults filled in: the streamlit_app role's input."""
    site = site or {}
    result = []
    for app in apps:
        if host not in app_hosts(app, children):
            continue
        item = {key: app[key] for key in CHILD_FIELDS if app.get(key) is not None}
        if "user" in item:
            item["user"] = str(item["user"])
        item["path"] = app_path(app)
        item["port"] = int(app["port"])
        for key in ("max_upload_mb", "ping_interval", "log_max_size", "log_max_files", "pull"):
            item[key] = app.get(key, DEFAULTS[key])
        item["origin_policy"] = app_policy(app, site)
        if item["origin_policy"] == "strict":
            item["public_origins"] = public_origins(site)
        secret = app.get("cookie_secret") or (site.get("cookie_secrets") or {}).get(app["name"])
        if secret:
            item["cookie_secret"] = secret
        if site.get("proxy_addresses"):
            item["forwarded_allow_ips"] = [str(a) for a in site["proxy_addresses"]]
        result.append(item)
    return result


def _backend(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}"


def proxy_apps(apps, children, addresses, site=None):
    """One entry per app with every child that runs it: the nginx_proxy role's input."""
    result = []
    for app in apps:
        missing = [h for h in app_hosts(app, children) if not addresses.get(h)]
        if missing:
            raise AnsibleFilterError(f"no streamlit_child_address for {', '.join(missing)}")
        result.append(
            {
                "name": app["name"],
                "path": app_path(app),
                "backends": [_backend(str(addresses[h]), int(app["port"])) for h in app_hosts(app, children)],
                "max_upload_mb": app.get("max_upload_mb", DEFAULTS["max_upload_mb"]),
                "ping_interval": app.get("ping_interval", DEFAULTS["ping_interval"]),
                "sticky": app.get("sticky", DEFAULTS["sticky"]),
                "origins": public_origins(site) if app_policy(app, site) == "strict" else [],
            }
        )
    return result


class FilterModule:
    def filters(self):
        return {
            "address_errors": address_errors,
            "apps_errors": apps_errors,
            "child_containers": child_containers,
            "container_env": container_env,
            "proxy_apps": proxy_apps,
            "proxy_apps_errors": proxy_apps_errors,
            "public_origins": public_origins,
            "site_errors": site_errors,
        }

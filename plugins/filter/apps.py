# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Turn the user's ``streamlit_apps`` into each role's variables, and check it.

One definition of the rules serves the site playbook (messages name
``streamlit_apps[i].field``), the streamlit_app role
(``streamlit_app_containers[i].field``) and the nginx_proxy role
(``nginx_proxy_apps[i].field``), so they can never disagree.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.docker_archive import ArchiveError, archive_image_id

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


def managed_env(app: dict) -> dict[str, str]:
    """The Streamlit settings the collection owns, as STREAMLIT_* variables."""
    return {
        "STREAMLIT_SERVER_HEADLESS": "true",
        # The mission's fix: the app is reached through the proxy's origin.
        "STREAMLIT_SERVER_ENABLE_CORS": "false",
        "STREAMLIT_SERVER_BASE_URL_PATH": app_path(app).strip("/"),
        "STREAMLIT_SERVER_ADDRESS": "0.0.0.0",
        "STREAMLIT_SERVER_PORT": str(CONTAINER_PORT),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }


RESERVED_ENV = frozenset(managed_env({"name": "x"}))


def container_env(app: dict) -> dict[str, str]:
    """The container's environment: the user's extras plus the managed settings."""
    env = {str(key): _env_value(value) for key, value in (app.get("env") or {}).items()}
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


def apps_errors(apps, children=None, varname="streamlit_apps"):
    """Every rule broken by ``apps``, one message each naming the field and the fix.

    ``children`` is the list of child hosts for the playbook's view (apps may
    name ``hosts``); ``None`` means one host runs every item (the role's view).
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
                            f"{at}.env: {key} is set by the collection (it manages {', '.join(sorted(RESERVED_ENV))}); "
                            "remove it from env."
                        )
                    elif isinstance(env[key], (dict, list)):
                        errors.append(f"{at}.env: the value of {key} must be a string, number or boolean.")

        command = app.get("command")
        if command is not None and not (
            (isinstance(command, str) and command.strip())
            or (isinstance(command, list) and command and all(isinstance(c, str) for c in command))
        ):
            errors.append(f"{at}.command: must be a non-empty string or list of strings, e.g. ['streamlit', 'run', 'app.py'].")
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
    return errors


def address_errors(address, host, varname="streamlit_child_address"):
    """An upstream address must be an IP: a name that stops resolving breaks `nginx -t`."""
    try:
        ipaddress.ip_address(str(address))
    except ValueError:
        return [f"{varname} of {host}: {address!r} is not an IP address; set it to the address the master reaches {host} at."]
    return []


def child_containers(apps, host, children):
    """The apps one child runs, with defaults filled in: the streamlit_app role's input."""
    result = []
    for app in apps:
        if host not in app_hosts(app, children):
            continue
        item = {key: app[key] for key in ("name", "image", "image_archive", "env", "command") if app.get(key) is not None}
        item["path"] = app_path(app)
        item["port"] = int(app["port"])
        result.append(item)
    return result


def _backend(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}"


def proxy_apps(apps, children, addresses):
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
        }

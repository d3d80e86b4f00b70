# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Turn the user's ``streamlit_apps`` into each role's variables, and check it.

One definition of the rules serves the site playbook (messages name
``streamlit_apps[i].field``) and the streamlit_app role (messages name
``streamlit_app_containers[i].field``), so the two can never disagree.
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
# Goes verbatim into an Nginx location and Streamlit's baseUrlPath.
PATH_RE = re.compile(r"^/([A-Za-z0-9._-]+/)*$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
        if not isinstance(name, str) or not NAME_RE.match(name):
            errors.append(f"{at}.name: {name!r} is not valid; use lowercase letters, digits and '-', e.g. 'sales-dashboard'.")
            name = None
        elif name in names:
            errors.append(f"{at}.name: '{name}' is already used by {varname}[{names[name]}]; give every app its own name.")
        else:
            names[name] = i

        path = app.get("path") if app.get("path") is not None else (f"/{name}/" if name else None)
        if path is not None:
            if not isinstance(path, str) or not PATH_RE.match(path):
                errors.append(
                    f"{at}.path: {path!r} is not valid; it must start and end with '/' and hold only "
                    "letters, digits, '-', '_', '.' and '/', e.g. '/streamlitApp/'."
                )
            elif path in paths:
                errors.append(f"{at}.path: '{path}' is already used by {varname}[{paths[path]}]; give every app its own path.")
            else:
                paths[path] = i

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
        }

# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The streamlit_app role's cross-field rules, on input its argument spec
has already checked and normalized (see specs.py).

Messages start with the item's label: the role's own ``streamlit_app_containers[i]``,
or, when the site playbook checks what it will hand a child, the user's
``streamlit_ops_apps[i]``.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import os
import re
from urllib.parse import urlsplit

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import app_rules, streamlit_secrets
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.docker_archive import ArchiveError, archive_image_id
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.streamlit_env import (
    MANAGED_OPTIONS,
    RESERVED_ENV,
    SECRETS_DIR,
)
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.streamlit_options import OPTIONS, STREAMLIT_VERSION

ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MEMORY_RE = re.compile(r"^([0-9]+)([bkmg]?)$", re.IGNORECASE)
LOG_SIZE_RE = re.compile(r"^[1-9][0-9]*[kmg]$")
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
UNIT_BYTES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# Docker refuses smaller memory limits.
MIN_MEMORY = 6 * 1024**2


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
    kind, multiple = OPTIONS[name][:2]
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


TRUSTED_USER_HEADERS = "server.trustedUserHeaders"


def trusted_user_headers(value) -> dict | None:
    """server.trustedUserHeaders as a dict (header -> st.user key), from a dict or its JSON text; None when neither."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def trusted_user_headers_problem(value) -> str | None:
    """Why Streamlit cannot start with this server.trustedUserHeaders (it checks at start, not here)."""
    mapping = trusted_user_headers(value)
    if mapping is None or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        return (f"{TRUSTED_USER_HEADERS} takes the JSON text of a dict of header -> st.user key, "
                "e.g. '{\"X-Forwarded-User\": \"user\"}'")
    seen: dict = {}
    for header, key in mapping.items():
        if key in seen:
            return (f"{TRUSTED_USER_HEADERS} maps both {seen[key]} and {header} to the st.user key {key!r}, "
                    "which Streamlit refuses at start; give each header its own key")
        seen[key] = header
    return None


# Streamlit refuses '_' in a provider name; the name is also a TOML key and st.login's argument.
PROVIDER_RE = re.compile(r"^[A-Za-z0-9-]+$")


def http_url_problem(url) -> str | None:
    parts = urlsplit(str(url).strip())
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or any(c.isspace() for c in str(url)):
        return f"{url!r} is not an http(s) URL"
    return None


def _secrets_auth(path: str) -> bool:
    """Whether a secrets file (already found to be TOML) defines auth at its top level."""
    import tomllib

    with open(path, "rb") as handle:
        return "auth" in tomllib.load(handle)


def login_problems(item: dict) -> list[tuple[str, str]]:
    """(field, message) for an item's login; no message ever holds the client ID or secret."""
    login = item.get("login")
    if login is None:
        return []
    problems = []
    for field in ("client_id", "client_secret"):
        if not str(login.get(field) or "").strip():
            problems.append((f"login.{field}", f"is empty; set the {field.replace('_', ' ')} your identity provider issued "
                                               "(from a vaulted variable)."))
    url = login.get("server_metadata_url")
    if url is not None and http_url_problem(url):
        problems.append(("login.server_metadata_url", f"{http_url_problem(url)}; write the provider's discovery document, "
                                                      "e.g. 'https://idp.example.com/.well-known/openid-configuration'."))
    provider = login.get("provider")
    if provider is not None and not PROVIDER_RE.match(provider):
        hint = re.sub(r"[^A-Za-z0-9-]+", "-", provider).strip("-") or "idp"
        why = "holds '_', which Streamlit refuses in a provider name" if "_" in provider else "is not a name of letters, digits and '-'"
        problems.append(("login.provider", f"{provider!r} {why}; write e.g. {hint!r} (and st.login({hint!r}) in the app), "
                                           "or omit provider for st.login()."))
    for key, value in (login.get("client_kwargs") or {}).items():
        problem = streamlit_secrets.value_problem(value)
        if problem:
            problems.append(("login.client_kwargs", f"{key}: {problem}."))
    redirect = login.get("redirect_uri")
    path = app_rules.app_path(item)
    if redirect is not None and (http_url_problem(redirect) or urlsplit(redirect.strip()).path != f"{path}oauth2callback"
                                 or urlsplit(redirect.strip()).query):
        problems.append(("login.redirect_uri", f"{redirect!r} is not <public origin>{path}oauth2callback, where Streamlit answers the "
                                               f"provider's callback under this app's path; write e.g. 'https://apps.example.com{path}oauth2callback'."))
    if not str(item.get("cookie_secret") or "").strip():
        problems.append(("login", "needs cookie_secret, which signs the login cookie and becomes [auth].cookie_secret; set cookie_secret "
                                  "on this item, the same on every replica of the app (e.g. 'openssl rand -hex 32', vaulted)."))
    secrets_file = item.get("secrets_file")
    if secrets_file is not None and os.path.isfile(secrets_file) and not app_rules.toml_problem(secrets_file) and _secrets_auth(secrets_file):
        problems.append(("login", f"secrets_file {secrets_file!r} already has an [auth] table, and login writes [auth] itself; "
                                  "move those settings into login and remove [auth] from the file, or remove login."))
    return problems


# Docker's own rule for a named volume.
VOLUME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]+$")


def volume_problem(volume: str) -> str | None:
    """Why a 'SRC:DEST[:ro|rw]' volume string is unusable; None when it is fine."""
    parts = volume.split(":")
    if len(parts) == 3 and parts[2] not in ("ro", "rw"):
        return f"{volume!r} ends in {parts[2]!r}: the mode is 'ro' or 'rw'"
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
        return f"{volume!r} is not 'SRC:DEST[:ro|rw]' with an absolute DEST, e.g. '/srv/data:/data:ro' or 'appdata:/data'"
    if not parts[0].startswith("/") and not VOLUME_NAME_RE.match(parts[0]):
        return (f"{volume!r} has the source {parts[0]!r}, which is neither an absolute host path nor a volume name "
                "(Docker resolves no relative path); write e.g. '/srv/data:/data' or 'appdata:/data'")
    if parts[1].rstrip("/") == SECRETS_DIR or parts[1].startswith(SECRETS_DIR + "/"):
        return f"{volume!r} mounts over {SECRETS_DIR}, where the collection puts secrets_file; choose another DEST"
    return None


# Host paths whose mount hands the container the host: its root, its
# configuration, or the Docker socket (directly or in the directory holding it).
PRIVILEGED_SOURCES = ("/", "/etc", "/run", "/var", "/var/run", "/var/lib/docker")


def privileged_source(volume: str) -> bool:
    """Whether a 'SRC:DEST[:mode]' volume mounts the host's root, /etc or the Docker socket."""
    source = volume.split(":", 1)[0]
    if not source.startswith("/"):
        return False  # a named volume
    source = "/" + os.path.normpath(source).lstrip("/")
    return source in PRIVILEGED_SOURCES or os.path.basename(source) == "docker.sock"


def _env_problems(env: dict) -> list[str]:
    problems = []
    for key, value in env.items():
        if not isinstance(key, str):
            problems.append(app_rules.env_key_problem(key))
        elif not ENV_KEY_RE.match(key):
            hint = re.sub(r"[^A-Za-z0-9_]+", "_", key).strip("_") or "VAR"
            hint = "_" + hint if hint[0].isdigit() else hint
            problems.append(f"{key!r} is not an environment variable name: letters, digits and '_', not starting with a digit; "
                            f"write e.g. {hint!r}.")
        elif key in RESERVED_ENV:
            problems.append(
                f"{key} is set by the collection; remove it from env and use the app's field for it "
                "(path, max_upload_mb, ping_interval, cookie_secret, origins, secrets_file)."
            )
        elif value is None or isinstance(value, (dict, list)):
            problems.append(f"the value of {key} must be a string, number or boolean, got {value!r}; quote it, e.g. \"\".")
    return problems


def _image_problems(item: dict) -> list[tuple[str, str]]:
    problems = []
    image = item["image"]
    if not image.strip() or any(c.isspace() for c in image):
        problems.append(("image", f"{image!r} is not an image reference; set it, e.g. 'registry.example.com/app:1.0'."))
        image = None
    elif app_rules.image_problem(image):
        problems.append(("image", app_rules.image_problem(image) + "."))
        image = None
    archive = item.get("image_archive")
    if archive is not None:
        if not os.path.isfile(archive):
            problems.append(("image_archive", f"{archive!r} is not a file on the controller; "
                                              "give the path of a 'docker save' tarball or remove the field to pull the image."))
        elif image is not None:
            try:
                archive_image_id(archive, image)
            except ArchiveError as exc:
                problems.append(("image_archive", f"{exc}; save the image under the tag given in image."))
    return problems


def _limit_problems(item: dict) -> list[tuple[str, str]]:
    problems = []
    for field in ("max_upload_mb", "ping_interval", "log_max_files"):
        if item[field] < 1:
            problems.append((field, f"{item[field]!r} is not a whole number of at least 1."))
    memory = item.get("memory")
    if memory is not None:
        if _memory_bytes(memory) < MIN_MEMORY:
            problems.append(("memory", f"{memory!r} is not a size of at least 6m (Docker's minimum); write e.g. '512m' or '1g'."))
    if item.get("cpus") is not None and item["cpus"] <= 0:
        problems.append(("cpus", f"{item['cpus']!r} is not a positive number of CPUs; write e.g. 1.5."))
    if not LOG_SIZE_RE.match(item["log_max_size"]):
        problems.append(("log_max_size", f"{item['log_max_size']!r} is not a size with a unit k, m or g; write e.g. '10m'."))
    return problems


def container_problems(item: dict) -> list[tuple[str, str]]:
    """(field, message) for each rule one normalized container item breaks."""
    problems = []
    for field, rule in (("name", app_rules.name_problem), ("path", app_rules.path_problem), ("port", app_rules.port_problem)):
        problem = rule(item[field])
        if problem:
            problems.append((field, problem + "."))
    problems += _image_problems(item)
    problems += [("env", p) for p in _env_problems(item.get("env") or {})]
    command = item.get("command")
    if command is not None and not (
        (isinstance(command, str) and command.strip())
        or (isinstance(command, list) and command and all(isinstance(c, str) for c in command))
    ):
        problems.append(("command", "must be a non-empty string or list of strings, e.g. ['streamlit', 'run', 'app.py']."))
    for name, value in (item.get("options") or {}).items():
        problem = option_problem(name, value)
        if problem is None and app_rules.control_problem(value):
            problem = f"{name}: {app_rules.control_problem(value)}"
        if problem is None and name == TRUSTED_USER_HEADERS:
            problem = trusted_user_headers_problem(value)
        if problem:
            problems.append(("options", problem + ("" if problem.endswith("?") else ".")))
    secrets_file = item.get("secrets_file")
    if secrets_file is not None and not os.path.isfile(secrets_file):
        problems.append(("secrets_file", f"{secrets_file!r} is not a file on the controller; give the path of a secrets.toml."))
    elif secrets_file is not None and app_rules.toml_problem(secrets_file):
        problems.append(("secrets_file", app_rules.toml_problem(secrets_file)))
    if item.get("cookie_secret") is not None and len(item["cookie_secret"].strip()) < 16:
        problems.append(("cookie_secret", "must be at least 16 characters; e.g. the output of 'openssl rand -hex 32', vaulted."))
    problems += login_problems(item)
    problems += _limit_problems(item)
    url = (item.get("registry") or {}).get("url")
    if url is not None and (not url.strip() or any(c.isspace() for c in url)):
        problems.append(("registry", f"url {url!r} is not a registry address; write e.g. 'registry.example.com', or omit it for Docker Hub."))
    for j, volume in enumerate(item.get("volumes") or []):
        problem = volume_problem(volume)
        if problem:
            problems.append((f"volumes[{j}]", problem + "."))
        elif privileged_source(volume) and not item.get("privileged_mounts"):
            problems.append((f"volumes[{j}]", f"{volume!r} mounts the host's {volume.split(':', 1)[0]}, which gives the app the host; "
                                              "mount only what it needs, or set privileged_mounts: true on the app if it must."))
    if item.get("pids_limit") is not None and item["pids_limit"] < 0:
        problems.append(("pids_limit", f"{item['pids_limit']!r} is not a number of processes; write e.g. 1024, or 0 for no limit."))
    if item.get("user") is not None and not USER_RE.match(item["user"]):
        problems.append(("user", f"{item['user']!r} is not a user; write NAME, UID or UID:GID, e.g. '1000:1000'."))
    for j, origin in enumerate(item.get("origins") or []):
        problem = app_rules.origin_problem(origin)
        if problem:
            problems.append((f"origins[{j}]", problem + "."))
    return problems


def containers_errors(items: list[dict], labels: list[str], where: str = "") -> list[str]:
    """Every rule the containers of one host break, each message led by the item's label.

    ``where`` (' on child1') says which host a port clash is on.
    """
    errors, seen = [], {"name": {}, "path": {}, "port": {}}
    for label, item in zip(labels, items):
        for field, value in (("name", item["name"]), ("path", app_rules.app_path(item)), ("port", item["port"])):
            problem = app_rules.first_use(seen[field], value, label, field, where if field == "port" else "")
            if problem:
                errors.append(f"{label}.{field}: {problem}")
        errors += [f"{label}.{field}: {message}" for field, message in container_problems(item)]
    return errors


def bind_address_problem(address) -> str | None:
    problem = app_rules.ip_problem(address)
    if problem:
        return problem + "; set it to an IP of this host that the proxy reaches it at"
    ip = ipaddress.ip_address(str(address))
    if ip.is_unspecified or ip.is_loopback:
        return f"{address!r} is not an address the proxy reaches this host at (all addresses or loopback); set one IP of this host"
    return None


def _not_networks(addresses: list) -> list:
    """The entries that are neither an IP address nor a network."""
    bad = []
    for address in addresses:
        try:
            ipaddress.ip_network(str(address), strict=False)
        except ValueError:
            bad.append(address)
    return bad


def forwarded_problems(addresses: list[str]) -> list[str]:
    return [f"{address!r} is not an IP address or network; uvicorn does not resolve names, so list the proxy's IPs."
            for address in _not_networks(addresses)]


def firewall_problems(enabled: bool, allow: list) -> list[str]:
    """Why the child firewall cannot be set up as given; [] when it can."""
    if not enabled:
        return []
    if not allow:
        return ["streamlit_app_firewall_allow: is empty with streamlit_app_firewall on, which would shut the proxy out of the apps; "
                "list the proxy's addresses (the site playbook fills in the masters'), or set streamlit_app_firewall: false."]
    return [f"streamlit_app_firewall_allow: {address!r} is not an IP address or network; list IPs or CIDRs, e.g. '10.0.0.5'."
            for address in _not_networks(allow)]


def firewall_sources(allow: list, bind_address) -> list[str]:
    """The allowed sources of the bind address's family, as networks (iptables or ip6tables takes one family)."""
    version = ipaddress.ip_address(str(bind_address)).version
    networks = [ipaddress.ip_network(str(a), strict=False) for a in allow]
    return list(dict.fromkeys(str(n) for n in networks if n.version == version))


def settled_images(items: list[dict], running: list[dict]) -> list[str]:
    """The images a container of this role already runs as the apps want them.

    Docker refuses to untag an image a container uses, so such an image is on
    the host; with an archive, the container's image ID must be the archive's.
    ``running`` are the role's containers as docker_host_info lists them
    (``Image`` is the reference a container was created from).
    """
    settled = []
    for image in dict.fromkeys(item["image"] for item in items):
        apps = [item for item in items if item["image"] == image]
        if any(app["pull"] == "always" for app in apps):
            continue
        archive = next((app["image_archive"] for app in apps if app.get("image_archive")), None)
        try:
            wanted = archive_image_id(archive, image) if archive else None
        except (ArchiveError, OSError):
            continue
        if any(c.get("Image") == image and wanted in (None, c.get("ImageID")) for c in running):
            settled.append(image)
    return settled


def spec_label(item: dict, env: dict, bind_address: str, secrets: bool, revision: str) -> str:
    """What the container's spec label holds: a hash of everything the service step creates it from.

    ``revision`` changes with the role's own way of running containers, so a
    container created by another version of the role never counts as in place.
    """
    spec = {"item": item, "env": env, "bind_address": bind_address, "secrets": secrets, "revision": revision}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _memory_bytes(memory) -> int:
    """Bytes of a memory size as Docker reads it (none given: 0); -1 for no size."""
    match = MEMORY_RE.match(str(memory or "0"))
    return int(match.group(1)) * UNIT_BYTES[match.group(2).lower()] if match else -1


def _updatable_as_created(item: dict, host_config: dict) -> bool:
    """Whether what `docker update` changes still is what the service step sets."""
    if not {"Memory", "NanoCpus", "PidsLimit", "RestartPolicy"} <= host_config.keys():
        return False
    pids = item["pids_limit"] if item["pids_limit"] > 0 else None
    return (host_config["Memory"] == _memory_bytes(item.get("memory"))
            and host_config["NanoCpus"] == round((item.get("cpus") or 0) * 1e9)
            and (host_config["PidsLimit"] if (host_config["PidsLimit"] or 0) > 0 else None) == pids
            and (host_config["RestartPolicy"] or {}).get("Name") == "unless-stopped")


def _with_containers(items: list[dict], listed: list[dict], prefix: str) -> list[tuple[dict, dict | None]]:
    """Each app with its container as host_info lists it, None where it has none."""
    by_name = {(c.get("Names") or [""])[0]: c for c in listed}
    return [(item, by_name.get(f"/{prefix}{item['name']}")) for item in items]


def _labelled(item: dict, container: dict, spec_labels: dict, label: str) -> bool:
    """Whether the container carries the spec label of this spec."""
    return (container.get("Labels") or {}).get(f"{label}.spec") == spec_labels.get(item["name"])


def in_place(items: list[dict], listed: list[dict], spec_labels: dict, prefix: str, label: str) -> list[str]:
    """The apps whose container the service step would leave as it is: created
    from this spec (its spec label), from the image the tag names now (see
    settled_images), running, healthy, and with what `docker update` changes
    as the step sets it. ``listed`` are the role's containers as host_info
    lists them (with each one's inspected HostConfig)."""
    found = []
    for item, container in _with_containers(items, listed, prefix):
        if (container is not None
                and _labelled(item, container, spec_labels, label)
                and item["image"] in settled_images([item], [container])
                and container.get("State") == "running"
                and "(healthy)" in str(container.get("Status", ""))
                and _updatable_as_created(item, container.get("HostConfig") or {})):
            found.append(item["name"])
    return found


def replacing(items: list[dict], listed: list[dict], spec_labels: dict, prefix: str, label: str, secret_names: list[str]) -> dict:
    """The apps whose existing container the service step would replace, told
    from the host read alone: ``{"known": True, "apps": [...]}``, or
    ``{"known": False, "apps": []}`` where the read cannot tell.

    Another spec label means another container: the step recreates it. The
    same label on a running container from a settled image (see
    settled_images), with its limits and restart policy as the step sets them,
    means the step leaves it running, whatever its health. Anything else is
    for docker_container itself to judge, in check mode: a stopped or
    restarting container, an image the tag may name anew, an app whose
    secrets.toml may change and restart it, and limits changed by hand, which
    docker_container updates in place or recreates the container for, by
    option and by version (community.docker 4 and 5 update the memory and
    the restart policy, and recreate for the CPUs and the PIDs limit).
    """
    found = []
    for item, container in _with_containers(items, listed, prefix):
        if container is None:
            continue
        if not _labelled(item, container, spec_labels, label):
            found.append(item["name"])
        elif (item["name"] in secret_names or item["image"] not in settled_images([item], [container])
              or container.get("State") != "running"
              or not _updatable_as_created(item, container.get("HostConfig") or {})):
            return {"known": False, "apps": []}
    return {"known": True, "apps": found}


def secret_names(items: list[dict]) -> list[str]:
    """The apps that get a secrets.toml: their secrets_file, their login's [auth] table, or both."""
    return list(dict.fromkeys([item["name"] for item in items if "secrets_file" in item]
                              + [item["name"] for item in items if "login" in item]))


def _firewall_settled(found: dict, wanted: dict) -> bool:
    """Whether the firewall the host read found (host_info's ``firewall``) is
    the one the role leaves: rules in place, and both files root's, with their
    mode and the content wanted (sha256 digests)."""
    files = [found.get(name) or {} for name in ("script", "dropin")]
    return bool(found.get("rules_in_place")
                and all(f.get("root_with_mode") for f in files)
                and [f.get("sha256") for f in files] == [wanted.get("script"), wanted.get("dropin")])


def _firewall_gone(found: dict) -> bool:
    """Whether the host read found neither the script nor the drop-in (host_info's ``firewall``)."""
    return all(name in found and (found[name] or {}).get("sha256") is None for name in ("script", "dropin"))


def host_verdict(items: list[dict], read: dict, spec_labels: dict, secrets: list[str], *, docker_install: bool,
                 engine_packages: list[str], python_packages: list[str], socket: str, firewall: bool,
                 firewall_sha256: dict, prefix: str, label: str, check_mode: bool = False) -> dict:
    """What one host read (host_info's result) leaves the role to do, each part computed once.

    - ``missing``: the packages to install. docker.io conflicts with
      docker-ce, so it is installed only where no engine runs and no engine
      package is installed.
    - ``to_install``: packages missing or the engine not running.
    - ``firewall_settled``: the firewall as the role leaves it. On: the
      engine running (it keeps the rules), the rules in place and both files
      as wanted. Off: neither file there (without the script, the step that
      takes the firewall out has nothing to run).
    - ``images_settled``: the containers listed, and each app's image
      settled (see settled_images).
    - ``containers_in_place``: every app's container in place (see
      in_place), and no other container of the role.
    - ``unchanged``: that, and no secrets.toml to write.
    - ``nothing_to_do``: none of the steps has anything to do.
    - ``replacing``: the existing containers the service step replaces, as
      the read tells (see replacing).
    - ``rollout_only``: nothing to install, the firewall and images settled,
      and some container to replace that the read names: nothing is to be
      done before the rolling update, and no preview is to be asked.
    - ``rollout``: those containers' apps where so, outside a check run
      (whose report of each change is the preview's); else none.
    """
    installed = [name for name, present in (read.get("packages") or {}).items() if present]
    engine_up = bool(((read.get("paths") or {}).get(socket) or {}).get("exists"))
    need_engine = docker_install and not engine_up and not set(installed) & set(engine_packages)
    missing = (["docker.io"] if need_engine else []) + [p for p in python_packages if p not in installed]
    listed = read.get("docker_containers")
    images_settled = listed is not None and not {item["image"] for item in items} - set(settled_images(items, listed))
    containers_in_place = (listed is not None and len(listed) == len(items)
                           and len(in_place(items, listed, spec_labels, prefix, label)) == len(items))
    to_install = bool(missing) or not engine_up
    found = read.get("firewall")
    firewall_settled = (bool(engine_up and _firewall_settled(found or {}, firewall_sha256 or {})) if firewall
                        else found is not None and _firewall_gone(found))
    unchanged = containers_in_place and not secrets
    settled = not to_install and firewall_settled and images_settled
    replaced = replacing(items, listed or [], spec_labels, prefix, label, secrets)
    rollout_only = settled and replaced["known"] and bool(replaced["apps"])
    return {"missing": missing, "to_install": to_install, "firewall_settled": firewall_settled,
            "images_settled": images_settled, "containers_in_place": containers_in_place, "unchanged": unchanged,
            "nothing_to_do": settled and unchanged, "replacing": replaced, "rollout_only": rollout_only,
            "rollout": replaced["apps"] if rollout_only and not check_mode else [],
            "secret_names": secrets, "spec_labels": spec_labels}

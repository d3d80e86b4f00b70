# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The rules an app obeys wherever it is named: in the site playbook's
``streamlit_ops_apps``, in streamlit_app's containers and in nginx_proxy's apps.

Each rule returns why a value is unusable, with a usable suggestion, or None.
Callers put the field name in front, so one rule serves every variable.
"""

from __future__ import annotations

import ipaddress
import os
import re

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# Goes verbatim into an Nginx location and Streamlit's baseUrlPath. A '.' or
# '..' segment is never matched: Nginx normalises it away.
PATH_RE = re.compile(r"^/(?:(?!\.\.?/)[A-Za-z0-9._-]+/)*$")
ORIGIN_RE = re.compile(r"^(https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")


# A name is a path segment on the children, an Nginx upstream and a Docker
# label; a DNS label's length keeps all of them readable.
NAME_MAX = 63


def name_problem(name) -> str | None:
    if isinstance(name, str) and NAME_RE.match(name) and len(name) > NAME_MAX:
        return f"{name[:20]}… has {len(name)} characters: use at most {NAME_MAX}, e.g. {name[:NAME_MAX].rstrip('-')!r}"
    if isinstance(name, str) and NAME_RE.match(name):
        return None
    hint = re.sub(r"[^a-z0-9-]+", "-", str(name or "").lower()).strip("-") or "app"
    return f"{name!r} may only hold lowercase letters, digits and '-' (not at either end): use e.g. '{hint}'"


def path_problem(path) -> str | None:
    if isinstance(path, str) and PATH_RE.match(path):
        return None
    segments = [re.sub(r"[^A-Za-z0-9._-]+", "", part) for part in str(path or "").split("/")]
    kept = "/".join(part for part in segments if part not in ("", ".", ".."))
    hint = f"/{kept}/" if kept else "/streamlitApp/"
    return (
        f"{path!r} must start and end with '/' and hold only letters, digits, '-', '_', '.' and '/' "
        f"(no empty, '.' or '..' segment): use e.g. '{hint}'"
    )


def port_problem(port) -> str | None:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return None
    return f"{port!r} is not a port: use an integer from 1 to 65535"


def origin_problem(origin) -> str | None:
    """Why a value is not a browser Origin as Nginx and Streamlit compare it."""
    match = ORIGIN_RE.match(origin) if isinstance(origin, str) else None
    if not match or (match.group(3) and not 1 <= int(match.group(3)) <= 65535):
        return f"{origin!r} is not 'scheme://host[:port]' (http or https, lowercase host, no path): write e.g. 'https://apps.example.com'"
    default = "443" if match.group(1) == "https" else "80"
    if match.group(3) == default:
        return f"{origin!r} names the default port, which browsers leave out of Origin: write '{match.group(1)}://{match.group(2)}'"
    return None


def ip_problem(address) -> str | None:
    """An upstream or bind address must be an IP: a name that stops resolving breaks nginx -t."""
    try:
        ipaddress.ip_address(str(address))
    except ValueError:
        return f"{address!r} is not an IP address"
    return None


def app_path(app: dict) -> str:
    """An app's path: its own, else /NAME/."""
    return app.get("path") or f"/{app['name']}/"


def first_use(seen: dict, value, label: str, what: str, where: str = "") -> str | None:
    """Record that label uses value; if an earlier label did, say so."""
    first = seen.setdefault(value, label)
    if first == label:
        return None
    return f"{value!r} is already used by {first}{where}; give each app its own {what}."


def duplicates(labels: list[str], values: list, what: str, where: str = "") -> list[str]:
    """One message per value an earlier item already has, led by '<label>.<what>'."""
    seen: dict = {}
    problems = (first_use(seen, value, label, what, where) for label, value in zip(labels, values))
    return [f"{label}.{what}: {problem}" for label, problem in zip(labels, problems) if problem]


def item_labels(items: list, varname: str, labels: list[str] | None = None) -> list[str]:
    """Each item's name in messages: the caller's labels, else varname[i]."""
    return list(labels) if labels is not None else [f"{varname}[{i}]" for i in range(len(items))]


# Docker's reference grammar (distribution/reference): an optional registry
# host[:port], lowercase path components, then an optional tag and digest.
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_RE = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{{32,}})?$")
# Largest max_upload_mb accepted: Streamlit keeps uploaded files in memory.
MAX_UPLOAD_MB = 1024 * 1024


def image_problem(image) -> str | None:
    """Why Docker would refuse an image reference, with a usable one."""
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        return None  # the container rules report an empty or spaced reference
    if IMAGE_RE.match(image) and len(image.split("@")[0].rsplit(":", 1)[0]) <= 255:
        return None
    name, at, digest = image.partition("@")
    tag = re.search(r":([^/:]*)$", name)
    repo, tag = (name[: tag.start()], tag.group(1)) if tag else (name, None)
    first, slash, rest = repo.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        repo = first + slash + re.sub(r"[^a-z0-9._/-]+", "-", rest.lower())
    else:
        repo = re.sub(r"[^a-z0-9._/-]+", "-", repo.lower())
    hint = repo.strip("-") + ("" if tag is None else ":" + (re.sub(r"[^\w.-]", "-", tag).lstrip(".-") or "latest")) + at + digest
    return (f"{image!r} is not a Docker image reference: the repository is lowercase letters, digits and "
            f"'.', '_', '-' separators, then an optional ':TAG'; write e.g. {hint!r}")


def control_problem(value) -> str | None:
    """Why a value that goes into an environment variable holds a control character."""
    values = value if isinstance(value, (list, tuple)) else [value]
    for item in values:
        bad = next((c for c in str(item) if ord(c) < 32 or ord(c) == 127), None) if isinstance(item, str) else None
        if bad is not None:
            name = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL"}.get(bad, "a control character")
            return f"{item!r} holds {name} (U+{ord(bad):04X}), which Streamlit cannot read as an option value; remove it"
    return None


def nested_paths(labels: list[str], paths: list[str]) -> list[str]:
    """One message per app whose path lies under another app's path on the same proxy.

    Nginx routes the longest prefix, so '/app/sub/' would take the requests of
    the app at '/app/' for its page 'sub' and everything below it.
    """
    problems = []
    for label, path in zip(labels, paths):
        for other_label, other in zip(labels, paths):
            if other != path and path.startswith(other):
                below = path[len(other):].strip("/")
                fix = (f"e.g. '{other.rstrip('/')}-{below.replace('/', '-')}/'" if other != "/" else
                       f"and move {other_label} from '/' to a path of its own, e.g. '/main/'")
                problems.append(
                    f"{label}.path: {path!r} lies under {other!r} of {other_label}, whose page or file '{path}…' "
                    f"Nginx would send here instead; give each app a path that does not start with another's, {fix}."
                )
                break
    return problems


def toml_problem(path: str) -> str | None:
    """Why a secrets file is not TOML that Streamlit reads; the message never quotes its content."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            tomllib.load(handle)
    except OSError as exc:
        return f"{path!r} cannot be read on the controller ({exc.strerror}); make it readable by the user running Ansible."
    except tomllib.TOMLDecodeError as exc:
        where = str(exc).rsplit("(", 1)
        return (f"{path!r} is not valid TOML ({where[1].rstrip(')') if len(where) == 2 else 'cannot be parsed'}), "
                "so st.secrets would fail in the app: fix the file, e.g. KEY = \"value\" with the value quoted.")
    except UnicodeDecodeError:
        return f"{path!r} is not UTF-8 text, so it is not TOML: save it as UTF-8."
    return None


def env_key_problem(key) -> str | None:
    """A key YAML did not read as a string (1, true, null): no environment variable has such a name."""
    if isinstance(key, str):
        return None
    kind = "null" if key is None else "true or false" if isinstance(key, bool) else "a number"
    return (f"the key {key!r} is {kind}, not a variable name (YAML reads an unquoted 1, true or ~ so); "
            "write a name of letters, digits and '_' that does not start with a digit, e.g. 'VAR_1'.")


def relative_problem(path: str) -> str | None:
    """A relative controller path: Ansible looks for it beside the collection's playbooks, not the user's files."""
    if os.path.isabs(path):
        return None
    return (f"{path!r} is relative, and Ansible would look for it in the role's files/ and beside the playbook (for "
            f"streamlit_ops.deploy.site, in the collection), not in the current directory ({os.path.abspath(path)}) nor "
            f"beside the inventory; write an absolute path, "
            f"one starting with '~/', or '{{{{ inventory_dir }}}}/{path}'.")

# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The rules an app obeys wherever it is named: in the site playbook's
``streamlit_ops_apps``, in streamlit_app's containers and in nginx_proxy's apps.

Each rule returns why a value is unusable, with a usable suggestion, or None.
Callers put the field name in front, so one rule serves every variable.
"""

from __future__ import annotations

import ipaddress
import re

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# Goes verbatim into an Nginx location and Streamlit's baseUrlPath. A '.' or
# '..' segment is never matched: Nginx normalises it away.
PATH_RE = re.compile(r"^/(?:(?!\.\.?/)[A-Za-z0-9._-]+/)*$")
ORIGIN_RE = re.compile(r"^(https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")


def name_problem(name) -> str | None:
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

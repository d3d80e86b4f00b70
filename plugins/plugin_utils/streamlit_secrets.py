# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""An app's secrets.toml: the user's secrets_file, then the ``[auth]`` table
that Streamlit's st.login reads, written from the app's ``login``.

The values are the provider's client secret and the app's cookie secret, so
they are written here, escaped by hand, rather than through a template: a quote
or a backslash in a vaulted value must not end the string early, and nothing
here ever puts a value into a message.
"""

from __future__ import annotations

import math
import re

# TOML's bare keys; every other key is written as a quoted string.
BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# The keys of a provider's section; redirect_uri and cookie_secret are [auth]'s own.
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
HEADER = "# Written by streamlit_ops.deploy from the app's login (st.login); edit login, not this table."
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character escaped (TOML allows none raw)."""
    out = []
    for char in str(text):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key) -> str:
    key = str(key)
    return key if BARE_KEY_RE.match(key) else toml_string(key)


def toml_value(value) -> str:
    """A TOML value for a string, boolean, number, list or dict (an inline table); null has none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")) if not math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML value for {type(value).__name__}")


def value_problem(value) -> str | None:
    """Why a client_kwargs value has no TOML form (null, or a type TOML lacks); None when it has one."""
    if value is None:
        return "null has no TOML form; remove the key or quote the value"
    if isinstance(value, (list, tuple)):
        return next((p for p in map(value_problem, value) if p), None)
    if isinstance(value, dict):
        return next((p for p in map(value_problem, value.values()) if p), None)
    if not isinstance(value, (bool, int, float, str)):
        return f"a {type(value).__name__} has no TOML form; write a string, number, boolean or list"
    return None


def _table(path: list[str], values: dict) -> list[str]:
    lines = ["[" + ".".join(toml_key(p) for p in path) + "]"]
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return lines


def auth_table(login: dict, cookie_secret: str) -> str:
    """The [auth] table (and its provider and client_kwargs tables) for one app's login."""
    provider = login.get("provider")
    section = {key: login[key] for key in PROVIDER_KEYS}
    own = {"redirect_uri": login["redirect_uri"], "cookie_secret": cookie_secret}
    lines = [HEADER]
    if provider:
        lines += _table(["auth"], own) + [""] + _table(["auth", provider], section)
        kwargs_path = ["auth", provider, "client_kwargs"]
    else:
        lines += _table(["auth"], {**own, **section})
        kwargs_path = ["auth", "client_kwargs"]
    if login.get("client_kwargs"):
        lines += [""] + _table(kwargs_path, login["client_kwargs"])
    return "\n".join(lines) + "\n"


def secrets_toml(user_text: str, login: dict | None, cookie_secret: str | None) -> str:
    """The app's secrets.toml: the user's file as it is, then the [auth] tables when the app has a login.

    Tables only follow the user's text, so none of its keys changes table.
    """
    text = user_text or ""
    if not login:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + ("\n" if text else "") + auth_table(login, cookie_secret or "")

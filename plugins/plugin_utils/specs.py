# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The argument specs as the one source of types, choices and defaults.

A role's ``meta/argument_specs.yml`` and the playbooks' ``playbooks/meta/argument_specs.yml``
say what each variable is. ``check`` applies them with Ansible's own validator
(the one role entry points use), element by element so that every message
names the exact field, and returns the values normalized: types converted,
``~`` expanded in paths, defaults filled in. The cross-field rules in the
other plugin_utils modules run on those normalized values only.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from pathlib import Path

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import ArgumentTypeError, ArgumentValueError

COLLECTION = Path(__file__).resolve().parents[2]
# libyaml's loader when PyYAML has it: every task that checks input reads a spec.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "list": "a list",
    "dict": "a dict",
    "path": "a path",
}


@functools.lru_cache(maxsize=None)
def _load(relative: str) -> dict:
    return yaml.load((COLLECTION / relative).read_text(encoding="utf-8"), Loader=LOADER)["argument_specs"]


def role_options(role: str, entry: str | None = "main") -> dict:
    """The options of a role's entry point (every entry point's for None), from its meta/argument_specs.yml."""
    entries = _load(f"roles/{role}/meta/argument_specs.yml")
    if entry is not None:
        return entries[entry]["options"]
    return {name: spec for point in entries.values() for name, spec in (point.get("options") or {}).items()}


def playbook_options(entry: str = "site") -> dict:
    """The options of a playbook of the collection, from playbooks/meta/argument_specs.yml."""
    return _load("playbooks/meta/argument_specs.yml")[entry]["options"]


def defaults(options: dict) -> dict:
    """The spec defaults of options, for those that have one."""
    return {name: spec["default"] for name, spec in options.items() if "default" in spec}


def _shown(spec: dict, value) -> str:
    return "(hidden)" if spec.get("no_log") else repr(value)


def _hint(spec: dict) -> str:
    text = spec.get("description") or ""
    text = text[0] if isinstance(text, list) else text
    return f" ({text.rstrip('.')})" if text else ""


def _plain(value):
    """value with plain dicts and lists in place of Ansible's lazy templating
    containers. The validator deep-copies what it checks, and a deep copy of a
    lazy container copies its templating context: with it, a few filter calls
    on one app cost more controller CPU than the whole task they run in."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _scalar(name: str, spec: dict, value, at: str):
    """One option without sub-options, checked and converted by Ansible's validator."""
    own = {key: spec[key] for key in ("type", "elements", "choices") if key in spec}
    result = ArgumentSpecValidator({name: own}).validate({name: _plain(value)})
    for error in result.errors.errors:
        if isinstance(error, ArgumentValueError) and "choices" in spec:
            return value, f"{at}: {_shown(spec, value)} is not one of {', '.join(map(str, spec['choices']))}; pick one."
        if isinstance(error, ArgumentTypeError):
            what = TYPE_WORDS.get(spec.get("type", "str"), spec.get("type"))
            if spec.get("elements"):
                what += f" of {TYPE_WORDS.get(spec['elements'], spec['elements'])}s"
            return value, f"{at}: {_shown(spec, value)} is not {what}{_hint(spec)}."
        return value, f"{at}: {error.msg}."
    return result.validated_parameters[name], None


def check(options: dict, given: dict, at: str = "") -> tuple[dict, list[str]]:
    """Check ``given`` against ``options``; return (normalized values, problems).

    ``at`` prefixes every field name (``streamlit_ops_apps[0]``). Fields the
    spec does not know are problems too, with the closest known name.
    Optional fields that are absent and have no default stay absent.
    """
    prefix = f"{at}." if at else ""
    if not isinstance(given, dict):
        return {}, [f"{at}: must be a dict with the fields {', '.join(options)}."]
    normalized, problems = {}, []
    for key in given:
        if key not in options:
            close = difflib.get_close_matches(str(key), options, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"the known fields are {', '.join(options)}"
            what = "field" if at else "variable"
            problems.append(f"{prefix}{key}: is not a known {what}; {hint}")
    for name, spec in options.items():
        value = given.get(name)
        if value is None:
            if spec.get("required"):
                problems.append(f"{prefix}{name}: is required{_hint(spec)}.")
            elif spec.get("default") is not None:
                normalized[name] = spec["default"]
            continue
        sub = spec.get("options")
        if sub and spec.get("type") == "list":
            if not isinstance(value, list):
                problems.append(f"{prefix}{name}: must be a list of dicts{_hint(spec)}.")
                continue
            normalized[name] = []
            for i, item in enumerate(value):
                item_normalized, item_problems = check(sub, item, f"{prefix}{name}[{i}]")
                normalized[name].append(item_normalized)
                problems.extend(item_problems)
        elif sub:
            normalized[name], sub_problems = check(sub, value, f"{prefix}{name}")
            problems.extend(sub_problems)
        else:
            normalized[name], problem = _scalar(name, spec, value, f"{prefix}{name}")
            if problem:
                problems.append(problem)
    return normalized, problems


def normalize(options: dict, given: dict) -> dict:
    """The normalized values of input that already passed ``check``."""
    return check(options, given)[0]

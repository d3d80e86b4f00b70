"""The argument specs are the one source of types, choices and defaults: every
public role variable is in its role's spec, specs and defaults agree, and the
site playbook's app fields mean what the same fields of the roles mean."""

import pathlib

import pytest
import yaml

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import specs

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
# What decides a value's meaning; descriptions may be worded for their reader.
MEANING = ("type", "elements", "choices", "default", "required", "no_log")


def _meaning(spec: dict) -> dict:
    own = {key: spec[key] for key in MEANING if key in spec}
    if "options" in spec:
        own["options"] = {name: _meaning(sub) for name, sub in spec["options"].items()}
    return own


@pytest.mark.parametrize("role", ROLES)
def test_specs_match_defaults(role):
    options = specs.role_options(role, None)
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {}
    optional = {name: opt for name, opt in options.items() if not opt.get("required")}
    assert set(defaults) == set(optional), "defaults/main.yml and argument_specs.yml list different variables"
    for name, value in defaults.items():
        assert optional[name].get("default") == value, f"{name}: spec default differs from defaults/main.yml"
    for name, opt in options.items():
        assert name.startswith(role + "_"), f"{name} lacks the {role}_ prefix"
        assert opt.get("description"), f"{name} has no description"


SITE_APP = specs.playbook_options("site")["streamlit_ops_apps"]["options"]
CONTAINER = specs.role_options("streamlit_app")["streamlit_app_containers"]["options"]
PROXY_APP = specs.role_options("nginx_proxy")["nginx_proxy_apps"]["options"]
# Fields the site computes for a role rather than passing them on, and those only the proxy takes.
SITE_ONLY = {"hosts", "origin_policy", "sticky", "auth", "allow"}
# path is optional for the user (default /NAME/) and always set by the site, and so is login's
# redirect_uri (derived from the public URL, which the role does not know).
REQUIRED_BY_ROLE = {"path"}
REQUIRED_BY_ROLE_IN = {"login": {"redirect_uri"}}


@pytest.mark.parametrize("field", sorted(set(SITE_APP) & set(CONTAINER)))
def test_an_app_field_means_the_same_to_the_site_and_streamlit_app(field):
    site, role = _meaning(SITE_APP[field]), _meaning(CONTAINER[field])
    if field in REQUIRED_BY_ROLE:
        site.pop("required", None), role.pop("required", None)
    for sub in REQUIRED_BY_ROLE_IN.get(field, ()):
        site["options"][sub].pop("required", None), role["options"][sub].pop("required", None)
    # The role fills an empty dict where the site passes nothing on.
    role.pop("default", None) if role.get("default") == {} else None
    assert site == role


@pytest.mark.parametrize("field", sorted(set(SITE_APP) & set(PROXY_APP)))
def test_an_app_field_means_the_same_to_the_site_and_nginx_proxy(field):
    site, role = _meaning(SITE_APP[field]), _meaning(PROXY_APP[field])
    if field in REQUIRED_BY_ROLE:
        site.pop("required", None), role.pop("required", None)
    assert site == role


def test_the_site_passes_every_other_field_to_streamlit_app():
    assert set(SITE_APP) - SITE_ONLY <= set(CONTAINER)
    assert set(CONTAINER) - set(SITE_APP) == {"origins"}


def test_check_fills_defaults_converts_types_and_names_each_field(tmp_path):
    options = {
        "port": {"type": "int", "required": True, "description": "The port."},
        "sticky": {"type": "str", "choices": ["cookie", "none"], "default": "cookie", "description": "How."},
        "file": {"type": "path", "description": "A file."},
        "secret": {"type": "int", "no_log": True, "description": "Hidden."},
        "items": {"type": "list", "elements": "dict", "description": "Items.",
                  "options": {"name": {"type": "str", "required": True, "description": "Its name."}}},
    }
    values, problems = specs.check(options, {"port": "8501", "file": "~/x", "items": [{"name": "a"}]})
    assert problems == []
    assert values == {"port": 8501, "sticky": "cookie", "file": str(pathlib.Path.home() / "x"), "items": [{"name": "a"}]}
    problems = specs.check(options, {"port": "x", "sticky": "sticky", "secret": "s3cret", "items": [{}, {"nme": 1}], "prt": 1}, "app")[1]
    assert problems == [
        "app.prt: is not a known field; did you mean 'port'?",
        "app.port: 'x' is not a whole number (The port).",
        "app.sticky: 'sticky' is not one of cookie, none; pick one.",
        "app.secret: (hidden) is not a whole number (Hidden).",
        "app.items[0].name: is required (Its name).",
        "app.items[1].nme: is not a known field; did you mean 'name'?",
        "app.items[1].name: is required (Its name).",
    ]


class _Costly(dict):
    """A dict that, like Ansible's lazy templating containers, must not be deep-copied:
    a copy of one of those copies its whole templating context."""

    def __deepcopy__(self, memo):
        raise AssertionError("specs deep-copied the caller's container")


class _CostlyList(list):
    def __deepcopy__(self, memo):
        raise AssertionError("specs deep-copied the caller's container")


def test_check_hands_the_validator_plain_copies_never_the_callers_containers():
    options = {
        "env": {"type": "dict", "description": "Env."},
        "origins": {"type": "list", "elements": "str", "description": "Origins."},
        "items": {"type": "list", "elements": "dict", "description": "Items.",
                  "options": {"tags": {"type": "list", "elements": "str", "description": "Tags."}}},
    }
    given = _Costly(env=_Costly(A=_CostlyList(["1"])), origins=_CostlyList(["https://a.test"]),
                    items=_CostlyList([_Costly(tags=_CostlyList(["x"]))]))
    values, problems = specs.check(options, given)
    assert problems == []
    assert values == {"env": {"A": ["1"]}, "origins": ["https://a.test"], "items": [{"tags": ["x"]}]}
    assert values["env"].__class__ is dict and values["origins"].__class__ is list
    # Control: Ansible's validator itself deep-copies what it is given.
    with pytest.raises(AssertionError, match="deep-copied"):
        specs.ArgumentSpecValidator({"env": {"type": "dict"}}).validate({"env": _Costly(A="1")})

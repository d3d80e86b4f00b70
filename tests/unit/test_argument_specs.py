"""Every public role variable is in meta/argument_specs.yml, and specs and
defaults agree on names and values."""

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES)
def test_specs_match_defaults(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
    # Every entry point (main, remove) reads the same defaults/main.yml.
    options = {k: v for entry in spec["argument_specs"].values() for k, v in (entry.get("options") or {}).items()}
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {}
    optional = {name: opt for name, opt in options.items() if not opt.get("required")}
    assert set(defaults) == set(optional), "defaults/main.yml and argument_specs.yml list different variables"
    for name, value in defaults.items():
        assert optional[name].get("default") == value, f"{name}: spec default differs from defaults/main.yml"
    for name, opt in options.items():
        assert name.startswith(role + "_"), f"{name} lacks the {role}_ prefix"
        assert opt.get("description"), f"{name} has no description"

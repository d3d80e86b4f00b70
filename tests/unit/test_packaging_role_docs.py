"""The role READMEs' variable tables are what tests/tools/role-docs makes of
meta/argument_specs.yml, and the generator itself behaves."""

from __future__ import annotations

import copy
import pathlib
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOL = ROOT / "tests" / "tools" / "role-docs"
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def load_tool():
    loader = SourceFileLoader("role_docs", str(TOOL))
    module = module_from_spec(spec_from_loader("role_docs", loader))
    loader.exec_module(module)
    return module


role_docs = load_tool()

SPECS = {
    "argument_specs": {
        "remove": {"short_description": "Take it all out.", "options": {}},
        "main": {
            "short_description": "Run C(demo) things.",
            "options": {
                "demo_items": {
                    "type": "list", "elements": "dict", "required": True,
                    "description": ["Items to run.", "Each becomes a V(thing)."],
                    "options": {
                        "name": {"type": "str", "required": True, "description": "Names streamlit_<name>."},
                        "mode": {"type": "str", "default": "fast", "choices": ["fast", "slow"], "description": "How."},
                        "login": {
                            "type": "dict", "no_log": True, "description": "Credentials.",
                            "options": {"password": {"type": "str", "required": True, "no_log": True,
                                                     "description": "Vault it | really."}},
                        },
                    },
                },
                "demo_port": {"type": "int", "default": 80, "description": "Port; see O(demo_items)."},
                "demo_name": {"type": "str", "default": "_", "description": "Name."},
                "demo_cert": {"type": "path", "default": None, "description": "Certificate."},
            },
        },
    }
}


@pytest.mark.parametrize("role", ROLES)
def test_readme_tables_match_the_specs(role):
    readme = (ROOT / "roles" / role / "README.md").read_text()
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    expected = role_docs.updated(readme, role_docs.render(specs, role), f"roles/{role}/README.md")
    assert readme == expected, (
        f"roles/{role}/README.md: its variable tables differ from meta/argument_specs.yml; run tests/tools/role-docs"
    )


def test_every_entry_point_and_nested_options_get_their_own_table():
    text = role_docs.render(SPECS, "demo")
    lines = text.splitlines()
    assert lines[0].startswith(role_docs.BEGIN) and lines[-1] == role_docs.END
    # main first, then the others; nested options under their own headings.
    headings = [line for line in lines if line.startswith("#")]
    assert headings == [
        "### Entry point `main` (`roles: [streamlit_ops.deploy.demo]`)",
        "#### Fields of each `demo_items` item",
        "##### Fields of `demo_items[].login`",
        "### Entry point `remove` (`tasks_from: remove.yml`)",
    ]
    assert "| `demo_items` | list of dict | required | Items to run. Each becomes a `thing`. " \
           "Fields: see *Fields of each `demo_items` item* below. |" in lines
    assert "| `demo_port` | int | `80` | Port; see `demo_items`. |" in lines
    assert "| `demo_name` | str | `_` | Name. |" in lines
    assert "| `demo_cert` | path | `null` | Certificate. |" in lines
    assert "| `name` | str | required | Names streamlit_&lt;name&gt;. |" in lines
    assert "| `mode` | str | `fast` | How. One of `fast`, `slow`. |" in lines
    assert "| `password` | str | required | Vault it \\| really. Never logged (`no_log`). |" in lines
    assert "It takes no variables of its own." in lines
    assert "Run `demo` things." in lines


def test_markup_becomes_markdown_and_cannot_break_a_table():
    md = role_docs.markdown
    assert md("C(nginx -t) O(url) O(a=b) V(true) RV(self_signed) M(ansible.builtin.uri)") == \
        "`nginx -t` `url` `a` `true` `self_signed` `ansible.builtin.uri`"
    assert md("I(it) B(bold) U(https://x.example/) L(docs, https://d.example/) R(see, anchor)") == \
        "*it* **bold** <https://x.example/> [docs](https://d.example/) see"
    assert md("a|b C(c|d) <tag>") == "a\\|b `c\\|d` &lt;tag&gt;"
    assert md(["one", "two\n  lines"]) == "one two lines"


def test_only_the_part_between_the_markers_changes_and_twice_is_once():
    readme = f"# Title\n\nprose\n\n{role_docs.BEGIN} -->\nold table\n{role_docs.END}\n\n## After\n"
    generated = role_docs.render(SPECS, "demo")
    once = role_docs.updated(readme, generated, "README.md")
    assert once.startswith("# Title\n\nprose\n\n" + role_docs.BEGIN_LINE + "\n")
    assert once.endswith(role_docs.END + "\n\n## After\n")
    assert "old table" not in once
    assert role_docs.updated(once, generated, "README.md") == once


@pytest.mark.parametrize("readme", [
    "no markers at all\n",
    f"{role_docs.END}\n{role_docs.BEGIN} -->\n",
    f"{role_docs.BEGIN} -->\n{role_docs.END}\n{role_docs.BEGIN} -->\n{role_docs.END}\n",
])
def test_missing_or_misplaced_markers_name_the_fix(readme):
    with pytest.raises(ValueError, match="where the variable tables go"):
        role_docs.updated(readme, role_docs.render(SPECS, "demo"), "roles/demo/README.md")


def test_check_mode_fails_on_a_stale_readme_and_writing_fixes_it(tmp_path):
    role = tmp_path / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(SPECS))
    (role / "README.md").write_text(f"# demo\n\n{role_docs.BEGIN} -->\n{role_docs.END}\n")

    def run(*args):
        return subprocess.run([sys.executable, str(TOOL), "--root", str(tmp_path), *args],
                              capture_output=True, text=True, timeout=60, check=False)

    stale = run("--check")
    assert stale.returncode == 1
    assert "roles/demo/README.md differs from meta/argument_specs.yml" in stale.stdout
    assert "+| `demo_port` | int | `80` |" in stale.stdout
    assert run().returncode == 0
    assert run("--check").returncode == 0
    # A spec change makes it stale again.
    specs = copy.deepcopy(SPECS)
    specs["argument_specs"]["main"]["options"]["demo_port"]["default"] = 8080
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(specs))
    assert run("--check").returncode == 1

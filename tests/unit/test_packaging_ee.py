"""The execution environment needs nothing from this collection: its plugins
import only the standard library, ansible-core and the collection itself,
and the example EE matches what the collection declares."""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
OWN = "ansible_collections.streamlit_ops.deploy"
# What ansible-core itself installs with, so every controller has it.
ANSIBLE_CORE_REQUIRES = {"ansible", "jinja2", "markupsafe", "yaml", "cryptography", "packaging", "resolvelib"}
# Code that runs on the managed hosts: the standard library and module_utils only.
TARGET_DIRS = ("plugins/modules", "plugins/module_utils")


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module an import statement in the file names (at any depth, inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


PLUGIN_FILES = sorted((ROOT / "plugins").rglob("*.py"))


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=[str(p.relative_to(ROOT)) for p in PLUGIN_FILES])
def test_plugins_need_no_python_package(path):
    relative = str(path.relative_to(ROOT))
    on_target = relative.startswith(TARGET_DIRS)
    for module in sorted(imported_modules(path)):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        if on_target:
            assert module.startswith(("ansible.module_utils", f"{OWN}.plugins.module_utils")), \
                f"{relative} runs on the managed host but imports {module}"
        elif top == "ansible_collections":
            assert module.startswith(OWN + "."), f"{relative} imports {module} from another collection"
        else:
            assert top in ANSIBLE_CORE_REQUIRES, (
                f"{relative} imports {module}: declare it in meta/execution-environment.yml "
                "(and the README's requirements) or do without it"
            )


def test_meta_execution_environment_declares_no_requirements():
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {}}


def test_the_example_ee_installs_this_version_on_the_supported_ansible_core():
    example = yaml.safe_load((ROOT / "examples" / "execution-environment.yml").read_text())
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert example["version"] == 3
    deps = example["dependencies"]
    assert deps["ansible_core"]["package_pip"] == "ansible-core" + runtime["requires_ansible"]
    tarball = f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    assert [entry["src"] for entry in example["additional_build_files"]] == [tarball], \
        "examples/execution-environment.yml must copy the tarball of galaxy.yml's version"
    assert deps["galaxy"]["collections"] == [{"name": f"/build/collections/{tarball}", "type": "file"}]

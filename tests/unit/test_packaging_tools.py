"""The packaging scripts in tests/tools: the collection copy, the offline pip
bootstrap for ansible-test, how galaxy-importer's output is judged, and the
docs and changelog checks, each against a case where it must fail."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import venv
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tests" / "tools"
sys.path.insert(0, str(TOOLS))
import collection_layout  # noqa: E402  pylint: disable=wrong-import-position


def load(name: str):
    loader = SourceFileLoader(name.replace("-", "_"), str(TOOLS / name))
    module = module_from_spec(spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


ansible_test = load("ansible-test")
galaxy_importer = load("galaxy-importer")
check_docs = load("check-docs")
changelog_check = load("changelog-check")
BIN = pathlib.Path(sys.executable).parent


def git_repo(path: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(textwrap.dedent(text))
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


def test_the_copy_holds_what_git_knows_but_not_the_self_link(tmp_path):
    repo = git_repo(tmp_path / "repo", {"galaxy.yml": "x\n", "plugins/a.py": "", ".gitignore": "*.log\n", "x.log": ""})
    (repo / "collections" / "ansible_collections" / "ns").mkdir(parents=True)
    (repo / "collections" / "ansible_collections" / "ns" / "name").symlink_to("../../..")
    layout = collection_layout.make_layout(tmp_path / "out", repo)
    assert layout == tmp_path / "out" / "ansible_collections" / "streamlit_ops" / "deploy"
    assert sorted(str(p.relative_to(layout)) for p in layout.rglob("*") if p.is_file()) == \
        [".gitignore", "galaxy.yml", "plugins/a.py"]


def test_the_get_pip_stand_in_installs_pip_into_an_empty_venv(tmp_path):
    """What ansible-test does to each environment it creates, without its download host."""
    version = ansible_test.ansible_test_pip_version(str(BIN / "python"))
    assert version.count(".") >= 1
    home = tmp_path / "home"
    cached = ROOT / ".cache" / "ansible-test-home" / ".ansible" / "test" / "cache" / f"pip-{version}-py3-none-any.whl"
    if cached.exists():  # spare PyPI a download when a sanity run already fetched it
        (home / ".ansible" / "test" / "cache").mkdir(parents=True)
        shutil.copy2(cached, home / ".ansible" / "test" / "cache")
    ansible_test.prepare_get_pip(str(BIN / "python"), home, version)
    shim = home / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    first = shim.read_text()
    ansible_test.prepare_get_pip(str(BIN / "python"), home, version)
    assert shim.read_text() == first
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    # ansible-test runs it as get-pip.py with these arguments.
    result = subprocess.run([str(target / "bin" / "python"), str(shim), "--disable-pip-version-check",
                             f"pip=={version}", "--no-setuptools", "--no-wheel"],
                            capture_output=True, text=True, timeout=300, check=False,
                            env=dict(os.environ, PIP_NO_INDEX="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    shown = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "--version"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert shown.startswith(f"pip {version} ")


@pytest.mark.parametrize("output, found", [
    ("Importing\nCollection loading complete\nImporter processing completed successfully\n", []),
    ("WARNING: roles/x.yml:2:3: syntax-check[unknown-module]: ...\nImporter processing completed successfully\n",
     ["WARNING: roles/x.yml:2:3: syntax-check[unknown-module]: ..."]),
    ("ERROR: Error running ansible-doc: ...\nImporter processing completed successfully\n",
     ["ERROR: Error running ansible-doc: ..."]),
    ("ERROR: The import failed for the following reason: Invalid collection metadata. 'repository' is required\n",
     ["ERROR: The import failed for the following reason: Invalid collection metadata. 'repository' is required",
      "no 'Importer processing completed successfully' line"]),
])
def test_galaxy_importer_output_is_judged_by_its_warning_and_error_lines(output, found):
    assert galaxy_importer.problems(output) == found


def test_a_stand_in_repository_goes_only_where_none_is(tmp_path):
    galaxy = tmp_path / "galaxy.yml"
    galaxy.write_text("namespace: a\nbuild_ignore:\n  - tests\n")
    galaxy_importer.stand_in_repository(galaxy, "https://stand-in.invalid/")
    assert galaxy.read_text() == "namespace: a\nbuild_ignore:\n  - tests\nrepository: https://stand-in.invalid/\n"
    galaxy.write_text("repository: https://real.example.org/\n")
    galaxy_importer.stand_in_repository(galaxy, "https://stand-in.invalid/")
    assert galaxy.read_text() == "repository: https://real.example.org/\n"


@pytest.mark.parametrize("version, problem", [
    ("1.0.0", None), ("1.2.0", None), (None, "has no version_added"), ("0.2.0", "before the first release"),
    ("1.3.0", "after galaxy.yml's version 1.2.0"), ("1.0", "is not X.Y.Z"),
])
def test_version_added_lies_within_the_collections_releases(version, problem):
    found = check_docs.version_problem(version, (1, 2, 0))
    assert (found is None) if problem is None else (problem in found)


FILTER_DOC = """\
    DOCUMENTATION:
      name: {name}
      version_added: "1.0.0"
      short_description: Count things
      description: [Counts things.]
      options:
        _input:
          description: The things.
          type: list
          elements: str
          required: true
    EXAMPLES: |
      - name: Count
        ansible.builtin.debug:
          msg: "{{{{ ['a'] | streamlit_ops.deploy.{name} }}}}"
    RETURN:
      _value:
        description: How many.
        type: int
"""


@pytest.fixture
def tiny_collection(tmp_path):
    return git_repo(tmp_path / "repo", {
        "galaxy.yml": "namespace: streamlit_ops\nname: deploy\nversion: 1.0.0\nreadme: README.md\nauthors: [x]\n",
        "README.md": "x\n",
        "plugins/filter/counting.py": """\
            def count(things):
                return len(things)


            def count_twice(things):
                return 2 * len(things)


            class FilterModule:
                def filters(self):
                    return {"count": count, "count_twice": count_twice}
            """,
        "plugins/filter/count.yml": FILTER_DOC.format(name="count"),
    })


def run_check_docs(root: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([sys.executable, str(TOOLS / "check-docs"), "--root", str(root)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)


def test_check_docs_fails_on_an_undocumented_filter_and_passes_once_documented(tiny_collection):
    result = run_check_docs(tiny_collection)
    assert result.returncode == 1, result.stdout
    assert "ok filter streamlit_ops.deploy.count (version_added 1.0.0)" in result.stdout
    assert "ERROR: filter streamlit_ops.deploy.count_twice" in result.stdout
    assert "ERROR: filter streamlit_ops.deploy.count " not in result.stdout
    (tiny_collection / "plugins/filter/count_twice.yml").write_text(
        textwrap.dedent(FILTER_DOC.format(name="count_twice")))
    result = run_check_docs(tiny_collection)
    assert result.returncode == 0, result.stdout
    assert "every plugin and role renders" in result.stdout


NOTES = """\
===========================
streamlit\\_ops.deploy Release Notes
===========================

.. contents:: Topics

v1.1.0
======

Release Summary
---------------

Later.

v1.0.0
======

Release Summary
---------------

First.

New Plugins
-----------

Filter
~~~~~~

- streamlit_ops.deploy.count - Count things.

New Roles
---------

- streamlit_ops.deploy.app - Run apps.
"""


def test_changelog_sections_are_read_per_release():
    first = changelog_check.release_notes(NOTES, "1.0.0")
    assert changelog_check.section(first, "Release Summary").strip() == "First."
    assert "- streamlit_ops.deploy.app - Run apps." in changelog_check.section(first, "New Roles")
    assert "Filter\n~~~~~~\n\n- streamlit_ops.deploy.count" in changelog_check.section(first, "New Plugins")
    assert changelog_check.section(changelog_check.release_notes(NOTES, "1.1.0"), "New Roles") == ""
    assert changelog_check.release_notes(NOTES, "2.0.0") == ""

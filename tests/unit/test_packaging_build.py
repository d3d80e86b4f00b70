"""galaxy.yml: real metadata only, the dependency range CI tests, and a
tarball that ships what an installed collection needs and nothing else."""

from __future__ import annotations

import pathlib
import shutil
import sys
import tarfile

import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tools"))
from collection_layout import build_tarball, copy_sources  # noqa: E402  pylint: disable=wrong-import-position

GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
# Everything a tarball may hold at its top level. Something new here is a
# decision: ship it (add it) or leave it out (galaxy.yml build_ignore).
SHIPPED_TOP_LEVEL = {
    "MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.rst", "changelogs", "meta", "playbooks",
    "plugins", "roles", "examples", "inventory.example",
}
REQUIRED = [
    "README.md", "LICENSE", "meta/runtime.yml", "meta/execution-environment.yml", "changelogs/changelog.yaml",
    "playbooks/site.yml", "playbooks/remove.yml", "playbooks/status.yml", "examples/execution-environment.yml",
    "plugins/modules/websocket_probe.py", "plugins/modules/streamlit_doctor.py", "playbooks/doctor.yml",
    "plugins/module_utils/streamlit_wire.py", "plugins/lookup/docker_archive_id.py",
]
# Development files that exist in a working checkout: each must stay out even
# when present (caches, venvs, CI, tests, build output).
STRAY = [
    ".venv/bin/python", ".venv-newest/lib/x.py", ".cache/images/demo.tar", ".pytest_cache/v/x", ".ansible/tmp/x",
    "plugins/filter/__pycache__/site.cpython-311.pyc", "roles/nginx_proxy/x.pyc",
    "streamlit_ops-deploy-0.9.0.tar.gz", "changelogs/.plugin-cache.yaml", "tests/output/junit/x.xml",
]


def ansible_galaxy() -> str:
    here = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    return str(here) if here.exists() else (shutil.which("ansible-galaxy") or pytest.skip("no ansible-galaxy"))


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """The file names inside a tarball built from a copy of the checkout with stray development files added."""
    tmp = tmp_path_factory.mktemp("build")
    source = copy_sources(tmp / "src")
    for name in STRAY:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("stray\n")
    tarball = build_tarball(source, tmp / "dist", ansible_galaxy())
    with tarfile.open(tarball) as archive:
        return sorted(member.name for member in archive.getmembers() if member.isfile())


def test_the_tarball_holds_only_what_users_need(members):
    top = {name.split("/", 1)[0] for name in members}
    assert top <= SHIPPED_TOP_LEVEL, f"ships {sorted(top - SHIPPED_TOP_LEVEL)}: add to galaxy.yml build_ignore or here"
    for name in REQUIRED:
        assert name in members, f"{name} is not in the tarball"
    for role in (ROOT / "roles").iterdir():
        assert f"roles/{role.name}/meta/argument_specs.yml" in members
        assert f"roles/{role.name}/README.md" in members


def test_no_development_file_is_shipped(members):
    leaked = [name for name in members if name.endswith((".pyc", ".tar.gz")) or "__pycache__" in name
              or name.startswith(("tests/", "molecule/", "bench/", "demo/", "collections/", "."))
              or name in {"Makefile", "ansible.cfg", "site.yml", "remove.yml", "status.yml", "doctor.yml", "galaxy.yml"}
              or name.startswith("requirements") or name.startswith("changelogs/fragments/")
              or name == "changelogs/.plugin-cache.yaml"]
    assert not leaked, f"shipped development files: {leaked}"


def test_metadata_is_real_or_left_out():
    assert GALAXY["namespace"] == "streamlit_ops" and GALAXY["name"] == "deploy"
    for key in ("repository", "documentation", "homepage", "issues"):
        url = str(GALAXY.get(key) or "")
        assert not any(host in url for host in ("example.", ".invalid", ".test", "localhost")), \
            f"galaxy.yml {key}: {url} is a placeholder; give the real address or leave it out"
    assert GALAXY["license"] == ["Apache-2.0"] and (ROOT / "LICENSE").is_file()


@pytest.mark.parametrize("version", ["4.8.5", "5.4.0"])
def test_the_dependency_range_admits_what_ci_tests(version):
    # community.docker 4.8.x with ansible 12 (oldest), 5.x with ansible 14 (newest).
    assert version in SpecifierSet(GALAXY["dependencies"]["community.docker"])
    assert "6.0.0" not in SpecifierSet(GALAXY["dependencies"]["community.docker"])

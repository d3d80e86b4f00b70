"""Shared by the scripts in tests/tools: the checkout's files as a collection.

Every tool here works on a copy of what git knows (tracked files, and new files
git does not ignore), never on the work tree itself, so stray files (venvs,
caches, build output) cannot change what is checked or built.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import venv

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAMESPACE, NAME = "streamlit_ops", "deploy"
# The checkout's link to itself (see ansible.cfg); a copy must not hold it.
SKIP_PREFIXES = ("collections/",)
TOOLS_REQUIREMENTS = ROOT / "tests" / "tools" / "requirements.txt"
TOOLS_VENV = ROOT / ".cache" / "tools-venv"


def source_files(root: pathlib.Path = ROOT) -> list[str]:
    """Tracked files and untracked ones git does not ignore, as they are in the work tree."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True, timeout=60,
    ).stdout.decode()
    files = sorted({name for name in out.split("\0") if name})
    return [
        name for name in files
        if not name.startswith(SKIP_PREFIXES) and (root / name).is_file() and not (root / name).is_symlink()
    ]


def copy_sources(dest: pathlib.Path, root: pathlib.Path = ROOT) -> pathlib.Path:
    """Copy the collection's files (modes kept) into dest and return dest."""
    for name in source_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return dest


def make_layout(base: pathlib.Path, root: pathlib.Path = ROOT) -> pathlib.Path:
    """Copy the collection to base/ansible_collections/NAMESPACE/NAME and return that path."""
    return copy_sources(base / "ansible_collections" / NAMESPACE / NAME, root)


def build_tarball(source: pathlib.Path, output: pathlib.Path, ansible_galaxy: str = "ansible-galaxy") -> pathlib.Path:
    """ansible-galaxy collection build of source into output; the tarball's path."""
    output.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ansible_galaxy, "collection", "build", "--force", "--output-path", str(output), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (tarball,) = output.glob(f"{NAMESPACE}-{NAME}-*.tar.gz")
    return tarball


def run_bounded(cmd: list[str], timeout: int, **kwargs) -> int:
    """Run cmd in its own process group and stop the whole group after timeout seconds (exit 124)."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        print(f"{cmd[0]}: stopped after {timeout} s", file=sys.stderr)
        return 124
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        raise


def tools_venv(path: pathlib.Path = TOOLS_VENV) -> pathlib.Path:
    """The venv of tests/tools/requirements.txt (galaxy-importer, ansible-builder), made or updated as needed.

    It is separate from .venv because galaxy-importer pins its own ansible-lint
    and ansible-core. A stamp of the requirements' hash tells when to reinstall.
    """
    digest = hashlib.sha256(TOOLS_REQUIREMENTS.read_bytes()).hexdigest()
    stamp = path / "requirements.sha256"
    python = path / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return path
    print(f"tools venv: installing {TOOLS_REQUIREMENTS.relative_to(ROOT)} into {path}", flush=True)
    if path.exists():
        shutil.rmtree(path)
    venv.EnvBuilder(with_pip=True).create(path)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(TOOLS_REQUIREMENTS)],
        check=True, timeout=900,
    )
    stamp.write_text(digest + "\n")
    return path

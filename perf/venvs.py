"""A venv per source tree, built from that tree's own dependency locks, for perf/compare --venvs.

A tree with `requirements/run.txt` gets exactly what that lock pins (hashes required) plus its
`clients/python` package; an older tree without locks gets what its pyproject.toml resolves to on
the day the venv is first built (pip's newest allowed releases), as a fresh checkout would. The
service itself is not installed: its server runs from the tree (`python -m session_events.cli`
with the tree as working directory), so only the dependencies come from the venv.

Venvs are cached outside the repository, under $EVENTS_PERF_VENVS or
~/.cache/session-events/perf-venvs, one per hash of the files that decide the install (and the
Python version); delete a venv's folder to resolve an unlocked tree again.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

LOCK = Path("requirements/run.txt")
CLIENT = Path("clients/python")
INPUTS = (LOCK, Path("pyproject.toml"), CLIENT / "pyproject.toml")
READY = ".perf-venv-ready"  # written last: a venv without it is half built


def cache_root() -> Path:
    configured = os.environ.get("EVENTS_PERF_VENVS")
    return Path(configured) if configured else Path.home() / ".cache/session-events/perf-venvs"


def venv_key(tree: Path) -> str:
    digest = hashlib.sha256(platform.python_version().encode())
    for relative in INPUTS:
        path = tree / relative
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()[:16]


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "--quiet", *args], check=True)


def tree_venv(tree: Path) -> Path:
    """The python of `tree`'s own venv, built on first use."""
    venv = cache_root() / venv_key(tree)
    if not (venv / READY).exists():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        print(f"Building a venv for {tree} in {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        if (tree / LOCK).exists():
            _pip(venv, "install", "--require-hashes", "-r", str(tree / LOCK))
            if (tree / CLIENT / "pyproject.toml").exists():
                _pip(venv, "install", "--no-deps", str(tree / CLIENT))
        else:
            # The tree's dependencies as its pyproject resolves them today; then the service
            # itself out again, so that the tree's own files are what the server imports.
            _pip(venv, "install", str(tree))
            _pip(venv, "uninstall", "--yes", "session-events")
        (venv / READY).write_text(freeze(venv / "bin/python"))
    return venv / "bin/python"


def freeze(python: Path) -> str:
    return subprocess.run(
        [str(python), "-m", "pip", "freeze", "--exclude-editable"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def _versions(python: Path) -> dict[str, str]:
    pins = {}
    for line in freeze(python).splitlines():
        name, _, version = line.partition("==")
        if version:
            pins[name.lower().replace("_", "-")] = version
    return pins


def version_differences(old: Path, new: Path) -> list[str]:
    """`name old -> new` for every distribution whose version differs between two pythons."""
    a, b = _versions(old), _versions(new)
    return [
        f"{name} {a.get(name, '-')} -> {b.get(name, '-')}"
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name)
    ]

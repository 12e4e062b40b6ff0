"""The locks pin what pyproject.toml asks for: `make lock` was run after the last change to it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# Distributions of this repository (the client): installed from their folders, so not in the
# locks, but their own dependencies are.
LOCAL = {
    canonicalize_name(name): tomllib.loads((ROOT / source["path"] / "pyproject.toml").read_text())
    for name, source in PYPROJECT["tool"]["uv"]["sources"].items()
}


def pinned(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE)
    }


def declared(*extras: str) -> list[Requirement]:
    lines = PROJECT["dependencies"] + [
        d for e in extras for d in PROJECT["optional-dependencies"][e]
    ]
    requirements = []
    for requirement in map(Requirement, lines):
        local = LOCAL.get(canonicalize_name(requirement.name))
        requirements += (
            map(Requirement, local["project"]["dependencies"]) if local else [requirement]
        )
    return requirements


@pytest.mark.parametrize(("lock", "extras"), [("run.txt", ()), ("test.txt", ("test",))])
def test_every_dependency_is_pinned_within_its_bounds_with_hashes(lock, extras):
    versions = pinned(lock)
    for requirement in declared(*extras):
        name = canonicalize_name(requirement.name)
        assert name in versions, f"{name} is not in requirements/{lock}: run make lock"
        assert requirement.specifier.contains(versions[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={versions[name]}, outside {requirement.specifier}"
        )
    assert "--hash=sha256:" in (ROOT / "requirements" / lock).read_text()


def test_the_run_lock_holds_no_test_tool():
    assert not {"pytest", "locust", "selenium", "ruff"} & set(pinned("run.txt"))


def test_the_locks_leave_out_what_the_repository_installs_itself():
    for lock in ("run.txt", "test.txt"):
        assert not set(LOCAL) & set(pinned(lock)), lock


def test_the_schemathesis_lock_pins_what_its_input_asks_for():
    lines = (ROOT / "tests/contract/requirements.in").read_text().splitlines()
    (wanted,) = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert wanted.specifier.contains(pinned("schemathesis.txt")["schemathesis"])

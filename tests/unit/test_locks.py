"""The locks pin what pyproject.toml asks for: `make lock` was run after the last change to it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CLIENT = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())["project"]


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
    if "test" in extras:  # the test environment holds the client too
        lines += CLIENT["dependencies"]
    return [Requirement(line) for line in lines]


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


def test_the_schemathesis_lock_pins_what_its_input_asks_for():
    lines = (ROOT / "tests/contract/requirements.in").read_text().splitlines()
    (wanted,) = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert wanted.specifier.contains(pinned("schemathesis.txt")["schemathesis"])

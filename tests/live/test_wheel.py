"""The wheel is the service: built from this tree, installed into a fresh venv outside it, served.

The venv gets the runtime lock (requirements/run.txt, as a server would) and the wheel, nothing of
the checkout: the server runs from a folder outside it, so only what the wheel holds can be found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import uuid
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from support.live_server import WRITE_KEY, LiveServer
from support.pg_server import create_databases, drop_databases

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
WHEEL_TOP_LEVEL = {"session_events", f"session_events-{VERSION}.dist-info"}


def run(*command: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def copy_of_checkout(destination: Path) -> Path:
    """The files git would commit, links kept as links, so the build writes nothing here."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, destination / name
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = copy_of_checkout(root / "source")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    client = source / "clients" / "python"  # the demo's client, a distribution of its own
    run(*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", root / "dist", source, client)
    (built,) = (root / "dist").glob("session_events-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv holding the runtime lock and the wheels (ours and
    the client's)."""
    home = tmp_path_factory.mktemp("server")
    venv.create(home / "venv", with_pip=True)
    pip = (home / "venv/bin/python", "-m", "pip", "--disable-pip-version-check")
    run(*pip, "install", "--quiet", "--require-hashes", "-r", ROOT / "requirements/run.txt")
    run(*pip, "install", "--quiet", "--no-deps", *wheel.parent.glob("*.whl"))
    return home / "venv/bin"


def test_the_wheel_holds_one_package_with_the_contract_and_migrations(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == WHEEL_TOP_LEVEL
    contract = zipfile.ZipFile(wheel).read("session_events/openapi/events-api.yaml")
    assert contract == (ROOT / "openapi/events-api.yaml").read_bytes()
    migrations = {p.name for p in (ROOT / "db/migrations/versions").glob("*.py")}
    packed = {Path(n).name for n in names if n.startswith("session_events/db/migrations/versions/")}
    assert migrations <= packed
    viewer = {f"session_events/viewer/{p.name}" for p in (ROOT / "session_events/viewer").iterdir()}
    assert viewer <= set(names)  # package data `viewer/*`: every file of the page, modules included


def test_the_installed_package_is_the_one_imported(installed, tmp_path):
    python = (installed / "python", "-c")
    where = run(*python, "import session_events; print(session_events.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(installed.parent)
    found = run(
        *python,
        "import importlib.util as u; print(*map(u.find_spec, ['db', 'handlers']))",
        cwd=tmp_path,
    )
    assert found.split() == ["None", "None"]  # no top-level names taken from other projects
    assert run(installed / "session-events", "--version").strip() == f"session-events {VERSION}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_installed_service_migrates_and_serves(backend, installed, postgres, tmp_path):
    fresh = f"wheel_{uuid.uuid4().hex[:12]}"  # a database nobody else uses, dropped afterwards
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/{fresh}.db"
    else:
        (url,) = create_databases(postgres.require(), [fresh])
    server = LiveServer(
        url, tmp_path / "server.log", cwd=tmp_path, command=(str(installed / "session-events"),)
    )
    try:
        server.start()
        base, write = server.base_url, {"X-API-Key": WRITE_KEY}
        created = httpx.post(
            f"{base}/api/v2/sessions", json={"session_type": "build"}, headers=write
        )
        assert created.status_code == 201, created.text
        events = f"{base}/api/v2/sessions/{created.json()['id']}/events"
        appended = httpx.post(
            events, json={"events": [{"event_type": "log", "message": "hi"}]}, headers=write
        )
        assert appended.status_code == 201, appended.text
        listed = httpx.get(events, headers=write).json()
        assert [e["message"] for e in listed["items"]] == ["hi"]
        assert httpx.get(f"{base}/viewer/").status_code == 200
        served = httpx.get(f"{base}/api/v2/openapi.json").json()
        assert "/sessions/{session_id}/events" in served["paths"]
    finally:
        server.stop()
        if backend == "postgresql":
            drop_databases(postgres.require(), [fresh])


def test_pip_install_of_a_clone_installs_a_server_that_serves(tmp_path):
    """`pip install .`, as Python people install from source: the dependencies come from the
    package index, and the client, which is not on it, is needed only by the demo."""
    source = copy_of_checkout(tmp_path / "clone")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_ = tmp_path / "venv/bin"
    run(bin_ / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", source)
    home = tmp_path / "home"
    home.mkdir()
    demo = subprocess.run(
        [bin_ / "session-events", "serve", "--demo"], cwd=home, capture_output=True, text=True
    )
    assert demo.returncode == 2
    said = demo.stderr.strip()  # with the pip of the server's own environment
    assert said.endswith(" -m pip install ./clients/python")
    assert f"in a clone of the repository, {bin_}/python" in said
    server = LiveServer(
        "sqlite:///.data/events.db",
        home / "server.log",
        cwd=home,
        command=(str(bin_ / "session-events"),),
    )
    try:
        server.start()
        sessions = f"{server.base_url}/api/v2/sessions"
        created = httpx.post(sessions, json={"session_type": "b"}, headers={"X-API-Key": WRITE_KEY})
        assert created.status_code == 201, created.text
    finally:
        server.stop()

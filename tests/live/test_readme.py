"""The README's API examples, run again against a live server: they answer as the README shows."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from support import readme_examples
from support.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]

TOOLS = ("bash", "curl", "jq", "python3")


@pytest.fixture
def readme_lines() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"the README's examples need {missing} (.ci/run installs them)"
    return readme_examples.README.read_text().split("\n")


def make_run_command(port: int) -> list[str]:
    """The command `make run PORT=<port>` runs, its program made absolute."""
    planned = subprocess.run(
        ["make", "-s", "-n", "run", f"PORT={port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    (serve,) = [line for line in planned if " serve " in line]
    program, *args = shlex.split(serve)
    return [str(ROOT / program), *args]


def test_the_readme_examples_answer_as_shown_by_make_run(readme_lines, tmp_path, database_url):
    """As a newcomer runs them: `make run` in the clone (its database, its kept keys, its demo
    runs), the examples in a shell started in the same folder."""
    keys = {"EVENTS_READ_KEYS": "", "EVENTS_WRITE_KEYS": ""}  # none: make run keeps its own
    if not database_url.startswith("sqlite"):  # the same examples on PostgreSQL: keys as kept
        kept = tmp_path / ".data"
        kept.mkdir()
        for kind in ("read", "write"):
            key = f"{kind}-{uuid.uuid4()}"
            (kept / f"{kind}-key").write_text(key + "\n")
            keys[f"EVENTS_{kind.upper()}_KEYS"] = key
    server = LiveServer(
        "" if database_url.startswith("sqlite") else database_url,  # "": make run's default
        tmp_path / "server.log",
        cwd=tmp_path,
        EVENTS_STREAM_HEARTBEAT_SECONDS="120",  # the stream shown has no heartbeat in it
        **keys,
    )
    try:
        server.start_exactly(make_run_command(server.port))
        found = readme_examples.examples(readme_lines)
        assert len(found) >= 40  # every block of the API sections is found
        outputs = readme_examples.run(found, server.base_url, tmp_path)
    finally:
        server.stop()
    assert readme_examples.mismatches(readme_lines, found, outputs) == []


def test_an_answer_that_differs_is_reported(readme_lines):
    found = readme_examples.examples(readme_lines)
    outputs = [example.shown(readme_lines) for example in found]
    assert readme_examples.mismatches(readme_lines, found, outputs) == []
    changed = next(i for i, output in enumerate(outputs) if '"status": 400' in "".join(output))
    outputs[changed] = [line.replace("400", "500") for line in outputs[changed]]
    (problem,) = readme_examples.mismatches(readme_lines, found, outputs)
    assert f"README.md:{found[changed].start}: $ curl" in problem

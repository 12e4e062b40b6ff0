"""The README's API examples, run again against a live server: they answer as the README shows."""

from __future__ import annotations

import shutil

import pytest

from support import readme_examples

TOOLS = ("bash", "curl", "jq", "python3")


@pytest.fixture
def readme_lines() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"the README's examples need {missing} (.ci/run installs them)"
    return readme_examples.README.read_text().split("\n")


def test_the_readme_examples_answer_as_shown(live_server, readme_lines, tmp_path):
    server = live_server(
        EVENTS_WRITE_KEYS="dev-write-key",
        EVENTS_READ_KEYS="dev-read-key",
        EVENTS_STREAM_HEARTBEAT_SECONDS="120",  # the stream shown has no heartbeat in it
    )
    found = readme_examples.examples(readme_lines)
    assert len(found) >= 40  # every block of the API sections is found
    outputs = readme_examples.run(found, server.base_url, tmp_path)
    assert readme_examples.mismatches(readme_lines, found, outputs) == []


def test_an_answer_that_differs_is_reported(readme_lines):
    found = readme_examples.examples(readme_lines)
    outputs = [example.shown(readme_lines) for example in found]
    assert readme_examples.mismatches(readme_lines, found, outputs) == []
    changed = next(i for i, output in enumerate(outputs) if '"status": 400' in "".join(output))
    outputs[changed] = [line.replace("400", "500") for line in outputs[changed]]
    (problem,) = readme_examples.mismatches(readme_lines, found, outputs)
    assert f"README.md:{found[changed].start}: $ curl" in problem

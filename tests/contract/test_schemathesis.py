"""Schemathesis fuzzes a live `session-events serve` on PostgreSQL against the contract.

All of schemathesis' default checks and phases, a fixed seed, response validation on in the
server (its default), and zero failures.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from session_events.contract import load_contract
from tests.conftest import WRITE_KEY

SEED = "20260113"
ROOT = Path(__file__).resolve().parents[2]
# Its own environment (tests/contract/requirements.in says why), made by `make test` from
# requirements/schemathesis.txt.
SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_schemathesis_finds_no_failure(live_server, tmp_path):
    server = live_server(EVENTS_VALIDATE_RESPONSES="true")
    assert SCHEMATHESIS.exists(), f"{SCHEMATHESIS} is missing: `make test` installs it"
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(ROOT / "tests" / "contract" / "schemathesis.toml"),
            "run",
            f"{server.base_url}/api/v2/openapi.json",
            "--header",
            f"X-API-Key: {WRITE_KEY}",
            "--seed",
            SEED,
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "schemathesis"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        # The hooks tell schemathesis the one rule the schema cannot: until_seq >= after_seq.
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.hooks", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "No issues found" in result.stdout
    assert '"level": "error"' not in server.output(), server.output()[-5000:]
    # The stateful phase follows the contract's links, and says how many it took (-s shows it).
    covered = re.search(r"API Links: +(\d+) covered / (\d+) selected / (\d+) total", result.stdout)
    assert covered, result.stdout[-5000:]
    print(covered.group(0))
    links = sum(len(response.get("links", {})) for response in responses(load_contract()))
    assert int(covered.group(3)) == links  # the contract's own, none guessed
    assert links and int(covered.group(1)) >= links // 2, covered.group(0)


def responses(contract: dict):
    for item in contract["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                yield from operation.get("responses", {}).values()

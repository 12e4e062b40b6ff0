"""The client's models are what `make client` generates from the contract as it is now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
MODELS = CLIENT / "session_events_client" / "models.py"


def test_the_committed_models_are_generated_from_the_contract(tmp_path):
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "datamodel-codegen"), "--output", str(tmp_path / "models.py")],
        cwd=CLIENT,  # the generator's options are in its pyproject.toml
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    fresh = (tmp_path / "models.py").read_text()
    assert fresh == MODELS.read_text(), "the contract changed: run `make client` and commit"
    assert "class Event(BaseModel)" in fresh

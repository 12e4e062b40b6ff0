"""valgrind's callgrind command and instruction totals, for perf/lab/server_instructions.py."""

from __future__ import annotations

from pathlib import Path


def valgrind_command(out: Path) -> list[str]:
    """valgrind's callgrind, instrumentation off until callgrind_control switches it on."""
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]


def total_instructions(folder: Path) -> int:
    """The instructions counted in every dump callgrind wrote in `folder`."""
    return sum(
        int(line.split()[1])
        for dump in Path(folder).glob("callgrind.out*")
        for line in dump.read_text().splitlines()
        if line.startswith("totals:")
    )

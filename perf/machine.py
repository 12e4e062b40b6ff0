"""What the benchmarks read about the machine and the server processes, from /proc."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from perf.load import wrk_binary


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_facts() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "wrk": _first_line([wrk_binary(), "--version"]).split(" Copyright")[0],
        "load average": load_average(),
    }


def _first_line(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    return (result.stdout or result.stderr).splitlines()[0].strip()


def announced_facts() -> dict:
    """The machine's facts, printed first, as every run's figures are read against them."""
    facts = machine_facts()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    return facts

"""What the tests and the benchmarks read about a server's processes, from /proc."""

from __future__ import annotations

import os
from pathlib import Path


def _family(pid: int) -> list[int]:
    """The process and its descendants (worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    family, todo = [], [pid]
    while todo:
        current = todo.pop()
        family.append(current)
        todo += children.get(current, [])
    return family


def rss_mb(pid: int) -> float:
    """VmRSS of the process and its descendants (worker processes), in MB."""
    total = 0
    for member in _family(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process and its descendants have used so far."""
    ticks = 0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def backends_cpu_seconds(database: str) -> float:
    """CPU time (user + system) the PostgreSQL backends connected to `database` have used so far,
    found by their process titles ("postgres: user database host(port) state")."""
    ticks = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes().split(b"\0")[0].decode(errors="replace").split()
            if title[:1] != ["postgres:"] or title[2:3] != [database]:
                continue
            fields = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")

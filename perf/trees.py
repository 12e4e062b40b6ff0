"""The two source trees and two databases perf/compare puts side by side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# The service's packages; trees before the one import package (28d13f3) had db and handlers at the
# top.
PACKAGES = ("session_events", "session_events.handlers", "session_events.db")
OLD_PACKAGES = ("session_events", "handlers", "db")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def export_tree(root: Path, ref: str, destination: Path) -> str:
    """`git archive ref | tar -x` into `destination`; returns the commit's short hash."""
    commit = _git(root, "rev-parse", "--verify", f"{ref}^{{commit}}")
    destination.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(root), "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(destination)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {commit} failed")
    return commit[:7]


def tree_label(root: Path) -> str:
    """HEAD's short hash, and whether the working tree differs from it."""
    head = _git(root, "rev-parse", "--short=7", "HEAD")
    changed = bool(_git(root, "status", "--porcelain"))
    return f"{head} + working tree changes" if changed else head


def imported_from(tree: Path, python: str = sys.executable) -> None:
    """Exit unless `python -m ...` run from `tree` imports the service's packages from it."""
    packages = PACKAGES if (tree / "session_events" / "db").exists() else OLD_PACKAGES
    code = "import importlib; print(*(importlib.import_module(p).__file__ for p in %r))"
    result = subprocess.run(
        [python, "-c", code % (packages,)], cwd=tree, capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"the service's packages do not import from {tree}:\n{result.stderr}")
    files = result.stdout.split()
    stray = [f for f in files if not Path(f).resolve().is_relative_to(tree.resolve())]
    if stray:
        sys.exit(f"run from {tree}, Python imports {stray}: not that tree's code")

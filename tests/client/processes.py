"""The client's command started as a person's terminal would start it: Ctrl-C (SIGINT) reaches
it even when the tests run in the background, where a shell starts them with SIGINT ignored and
every child would inherit that (Python then never raises KeyboardInterrupt)."""

from __future__ import annotations

import signal
import subprocess


def _ctrl_c_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interruptible(args: list[str], **options) -> subprocess.Popen:
    """subprocess.Popen(args, **options), SIGINT at its default in the child."""
    return subprocess.Popen(args, preexec_fn=_ctrl_c_as_in_a_terminal, **options)

"""`session-events serve` as a subprocess on a free port, for the live tests and perf/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.pg_server import free_port

READ_KEY = "test-read-key"
WRITE_KEY = "test-write-key"


class LiveServer:
    """`session-events serve` in a subprocess, on a free port.

    `cwd` runs it from another source tree (an exported older commit, say): `python -m` puts the
    working directory first on sys.path, so that tree's packages are the ones imported. `command`
    runs another installation's `session-events` (a wheel's, in a venv of its own).
    """

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        cwd: Path | None = None,
        command: tuple[str, ...] = (sys.executable, "-m", "session_events.cli"),
        piped_log: bool = False,
        **env: str,
    ):
        self.port = free_port()
        self.cwd = cwd
        self.command = command
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.piped_log = piped_log  # the log goes to a pipe (see lose_log_reader) instead
        self.env = {
            **os.environ,
            "EVENTS_DATABASE_URL": database_url,
            "EVENTS_READ_KEYS": READ_KEY,
            "EVENTS_WRITE_KEYS": WRITE_KEY,
            "EVENTS_LOG_FORMAT": "json",
            "EVENTS_LOG_LEVEL": "warning",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, *args: str) -> LiveServer:
        return self.start_exactly([*self.command, "serve", "--port", str(self.port), *args])

    def start_exactly(self, argv: list[str]) -> LiveServer:
        """Start `argv`, which must serve on this server's port (`make run`'s command, say)."""
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            argv,
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE if self.piped_log else self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/api/v2/openapi.json").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()}")

    def lose_log_reader(self) -> None:
        """Close the reading end of a piped log: the server's next log line meets a broken pipe,
        as when `serve | head` has printed its lines or a log collector dies."""
        self.process.stdout.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()

    def output_once_it_shows(self, text: str, timeout: float = 20) -> str:
        """The output, once it holds `text` (or `timeout` seconds on, whatever it holds then)."""
        deadline = time.monotonic() + timeout
        while text not in self.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.output()


def stop_all(servers: list[LiveServer], postgres=None) -> None:
    """Stop the servers, then the PostgreSQL they used (if one was started for them)."""
    for server in servers:
        server.stop()
    if postgres:
        postgres.stop()

"""A throwaway PostgreSQL server for the tests (and the benchmarks), from the machine's binaries.

Started in a temporary directory on a free port, as the `postgres` user when running as root
(initdb refuses root), and removed afterwards. Run `python -m support.pg_server` to start one by
hand: it prints its URL and stops on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path | None:
    """The newest PostgreSQL bin directory holding initdb and pg_ctl."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for path in reversed(candidates):
        if (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start in a temp dir; `url` is a postgresql:// URL for the `events` user."""

    def __init__(self, bindir: Path | None = None, options: str = ""):
        self.options = options  # more `-c name=value` for this server (a replica's delay, say)
        self.bindir = bindir or find_bindir()
        if self.bindir is None:
            raise PostgresUnavailable("no PostgreSQL binaries (initdb, pg_ctl) found")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="events-pg-"))
        self.datadir = self.root / "data"
        self.as_root = os.geteuid() == 0
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self, replica_of: PostgresServer | None = None) -> PostgresServer:
        """A new cluster, or with `replica_of` a streaming replica of that running server (its
        base backup, with the standby.signal and primary_conninfo that -R writes)."""
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        try:
            if replica_of is None:
                self._run(
                    self.bindir / "initdb",
                    "-D",
                    self.datadir,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                )
            else:  # initdb's pg_hba.conf lets 127.0.0.1 replicate with trust
                self._run(
                    self.bindir / "pg_basebackup", "-D", self.datadir, "-R", "-X", "stream",
                    "--checkpoint=fast", "--no-sync", "-h", "127.0.0.1",
                    "-p", str(replica_of.port), "-U", "postgres",
                )  # fmt: skip
            self.start_server()
        except (subprocess.CalledProcessError, OSError) as error:
            output = getattr(error, "stderr", "") or str(error)
            self.stop()
            raise PostgresUnavailable(f"could not start PostgreSQL: {output.strip()}") from error
        return self

    def start_server(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
            + self.options
        )
        self._run(
            self.bindir / "pg_ctl", "-D", self.datadir, "-l", self.root / "server.log", "-w",
            "-o", options, "start",
        )  # fmt: skip

    def stop_server(self, mode: str = "fast") -> None:
        if self.datadir.exists():
            self._run(self.bindir / "pg_ctl", "-D", self.datadir, "-m", mode, "-w", "stop",
                      check=False)  # fmt: skip

    def stop(self) -> None:
        self.stop_server("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            self.bindir / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql,
        )  # fmt: skip
        return result.stdout.strip()

    def create_database(self, name: str) -> str:
        # psql, not asyncpg: callable from inside a running event loop (tests/live/test_outage.py)
        self.psql(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def _as_admin(server_url: str, work) -> None:
    """Run `await work(connection)` on an asyncpg connection to the server of `server_url`."""
    admin = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> None:
        connection = await asyncpg.connect(admin)
        try:
            await work(connection)
        finally:
            await connection.close()

    asyncio.run(run())


def create_databases(server_url: str, names: list[str]) -> list[str]:
    """The URLs of databases `names` on the server of `server_url`, created when missing."""

    async def create(connection) -> None:
        for name in names:
            found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not found:
                await connection.execute(f'CREATE DATABASE "{name}"')

    _as_admin(server_url, create)
    url = make_url(server_url)
    return [url.set(database=name).render_as_string(hide_password=False) for name in names]


@contextmanager
def perf_database(name: str) -> Iterator[str]:
    """EVENTS_DATABASE_URL when it names a PostgreSQL database, otherwise database `name` on a
    throwaway server, removed afterwards: where perf/'s scripts run."""
    url = os.environ.get("EVENTS_DATABASE_URL", "")
    if url.startswith("postgresql"):
        yield url
        return
    server = PostgresServer().start()
    try:
        yield server.create_database(name)
    finally:
        server.stop()


def drop_databases(server_url: str, names: list[str]) -> None:
    async def drop(connection) -> None:
        for name in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')

    _as_admin(server_url, drop)


if __name__ == "__main__":
    server = PostgresServer().start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

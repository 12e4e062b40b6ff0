"""What perf/primary_limits.py reads of PostgreSQL and of the machine: a cluster with a primary's
durability, WAL and commit counters, the postmaster (whose children's CPU is PostgreSQL's), more
listeners on the service's channel, the disk's fsync rate and each backend's memory."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import threading
from pathlib import Path

import asyncpg

from session_events.db.notify import CHANNEL
from support.pg_server import PostgresServer


class DurablePostgres(PostgresServer):
    """The throwaway cluster with a primary's durability (PostgreSQL's defaults)."""

    def start_server(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        )
        command = [
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir),
            "-l", str(self.root / "server.log"), "-w", "-o", options, "start",
        ]  # fmt: skip
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


WAL_SQL = "pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint"
# WAL position, full-page images, WAL syncs, transactions, events stored (the sessions'
# counters: cheaper than counting the events, whose scan would show in PostgreSQL's CPU).
STATS_SQL = f"""
SELECT {WAL_SQL}, (SELECT wal_fpi FROM pg_stat_wal), (SELECT wal_sync FROM pg_stat_wal),
       (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
       (SELECT coalesce(sum(last_seq), 0) FROM sessions)::bigint
"""


async def _query(url: str, sql: str) -> list:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql))
    finally:
        await connection.close()


def query(url: str, sql: str) -> list:
    return asyncio.run(_query(url, sql))


def postmaster_pid(url: str) -> int | None:
    """The postmaster of this URL's server, where it runs on this machine."""

    async def read() -> int | None:
        connection = await asyncpg.connect(url)
        try:  # read while the backend lives: its parent is the postmaster
            pid = await connection.fetchval("SELECT pg_backend_pid()")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        finally:
            await connection.close()
        return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:")))

    return asyncio.run(read())


class Listeners:
    """`count` more connections LISTENing on the service's channel while inside, as `count`
    more server processes would: what each notification costs the primary per listener."""

    def __init__(self, url: str, count: int):
        self.url, self.count = url, count
        self.ready, self.stop = threading.Event(), threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)
        self.thread.start()
        self.ready.wait(30)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)

    async def _listen(self) -> None:
        connections = [await asyncpg.connect(self.url) for _ in range(self.count)]
        for connection in connections:
            await connection.add_listener(CHANNEL, lambda *args: None)
        self.ready.set()
        while not self.stop.is_set():
            await asyncio.sleep(0.1)
        for connection in connections:
            await connection.close()


def fsync_rate(pg: PostgresServer) -> str:
    """pg_test_fsync's one-8kB-write-then-fdatasync rate on the cluster's disk: the ceiling of
    commits/s of one session (concurrent commits share a sync: group commit)."""
    probe = pg.root / "fsync_probe"
    command = [str(pg.bindir / "pg_test_fsync"), "-s", "1", "-f", str(probe)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        if line.strip().startswith("fdatasync") and "ops/sec" in line:
            return line.split()[1] + " fdatasync/s"
    return "unknown"


def machine_busy() -> tuple[int, int]:
    """(busy, all) jiffies of every CPU so far, from /proc/stat (iowait counts as idle)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def backend_memory(url: str, database: str) -> list[tuple[int, int, int]]:
    """(pid, Pss kB, private kB) of each client backend connected to `database`."""
    rows = query(
        url,
        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
        f"AND datname = '{database}' AND pid <> pg_backend_pid()",
    )
    found = []
    for (pid,) in rows:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        fields = {ln.split(":")[0]: int(ln.split()[1]) for ln in lines[1:] if ln.split()[1:2]}
        found.append((pid, fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"]))
    return found

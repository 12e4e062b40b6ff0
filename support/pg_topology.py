"""A primary, a lagging streaming replica and PgBouncer in transaction mode, for the tests.

All three from the machine's Debian packages, in temporary directories on free ports, as the
`postgres` user when running as root (initdb refuses root, and so does PgBouncer), and removed
afterwards. Run `python -m support.pg_topology` to start one by hand: it prints the settings a
server needs to use it and stops on Ctrl-C.

PgBouncer's pools are sized on purpose:
- `max_client_conn` 400: 8 server processes with pools of 10 (and one connection each for the
  primary's samples that replica lags are measured against) are 88 clients, and a test's own
  connections and a few more servers stay far below it, so a client is never refused.
- `default_pool_size` 20 per database and user: fewer server connections than the 88 clients
  that can be open, so that pooling is really exercised, and enough that transactions queue
  only briefly. `reserve_pool_size` 0 and `min_pool_size` 0, so the primary never holds more
  than 20 connections of PgBouncer's per database (tests/live/test_topology_connections.py).
- `server_login_retry` 1 s instead of 15: after a failed login to the primary PgBouncer turns
  clients away until it may try again, so the default keeps the service out for up to 15 s
  after the primary is back (the outage tests would wait that long each time).
The rest are PgBouncer 1.18's defaults; note `query_wait_timeout` (120 s): a query sent while
the primary is down waits in PgBouncer, so only the service's own timeouts fail it fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from support.pg_server import PostgresServer, PostgresUnavailable, free_port

PGBOUNCER = "/usr/sbin/pgbouncer"
POOL_SIZE = 20
MAX_CLIENT_CONN = 400
DEFAULT_DELAY = 1.5


class PgBouncer:
    """PgBouncer in transaction mode in front of `primary` (every database of it), trusting
    the `postgres` user, with its config, pid file and log in the primary's temp dir."""

    def __init__(self, primary: PostgresServer, pool_size: int = POOL_SIZE):
        self.primary = primary
        self.pool_size = pool_size
        self.port = free_port()
        self.config = primary.root / "pgbouncer.ini"
        self.log_path = primary.root / "pgbouncer.log"
        self.process: subprocess.Popen | None = None

    def write_config(self) -> None:
        (self.primary.root / "userlist.txt").write_text('"postgres" ""\n')  # trust still needs it
        self.config.write_text(
            f"""[databases]
* = host=127.0.0.1 port={self.primary.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.primary.root}/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = {MAX_CLIENT_CONN}
default_pool_size = {self.pool_size}
min_pool_size = 0
reserve_pool_size = 0
server_login_retry = 1
"""
        )

    def start(self) -> PgBouncer:
        if not Path(PGBOUNCER).exists():
            raise PostgresUnavailable(f"no PgBouncer ({PGBOUNCER}): install Debian's pgbouncer")
        self.write_config()
        user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        # Its log to a file we opened: an unread pipe would fill and stop it.
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [PGBOUNCER, str(self.config)], stdout=log, stderr=subprocess.STDOUT, **user
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PostgresUnavailable(f"PgBouncer exited: {self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise PostgresUnavailable("PgBouncer did not listen within 15 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # immediate shutdown; SIGINT waits on clients
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Topology:
    """A primary, a streaming replica of it that replays `delay` seconds late (0: as soon as it
    can), and PgBouncer in transaction mode in front of the primary.

    Databases are made with `create_database` (on the primary; the replica gets them by
    replication); `env(name)` is what a server needs to use the three.
    """

    def __init__(self, delay: float = DEFAULT_DELAY, pool_size: int = POOL_SIZE):
        self.delay = delay
        self.primary = PostgresServer()
        self.replica = PostgresServer(options=f"-c recovery_min_apply_delay={int(delay * 1000)}ms")
        self.bouncer = PgBouncer(self.primary, pool_size)

    def start(self) -> Topology:
        try:
            self.primary.start()
            self.replica.start(replica_of=self.primary)
            self.bouncer.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.bouncer.stop()
        self.replica.stop()
        self.primary.stop()

    def stop_replica(self) -> None:
        self.replica.stop_server("fast")

    def start_replica(self) -> None:
        self.replica.start_server()

    def primary_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary.port}/{database}"

    def bouncer_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.bouncer.port}/{database}"

    def replica_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.replica.port}/{database}"

    def create_database(self, name: str, timeout: float = 60) -> str:
        """Database `name` on the primary, once the replica has it too; its primary URL."""
        self.primary.create_database(name)
        self.wait_for_replay(timeout)
        return self.primary_url(name)

    def wait_for_replay(self, timeout: float = 60) -> None:
        """Until the replica has replayed all the primary has written so far."""
        # The insert position: with synchronous_commit off, a commit may not be written yet.
        position = self.primary.psql("SELECT pg_current_wal_insert_lsn()")
        query = f"SELECT pg_last_wal_replay_lsn() >= '{position}'::pg_lsn"
        deadline = time.monotonic() + timeout
        while self.replica.psql(query) != "t":
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"the replica did not replay up to {position}")
            time.sleep(0.05)

    def env(self, database: str) -> dict[str, str]:
        """The settings of a server that writes through PgBouncer, LISTENs on the primary and
        reads from the replica."""
        return {
            "EVENTS_DATABASE_URL": self.bouncer_url(database),
            "EVENTS_LISTEN_DATABASE_URL": self.primary_url(database),
            "EVENTS_REPLICA_URLS": self.replica_url(database),
            "EVENTS_DATABASE_POOLER": "transaction",
        }

    def client_backends(self) -> dict[int, str]:
        """The primary's client backends, pid to application_name, leaving out the one asking."""
        rows = self.primary.psql(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        pids = {}
        for row in rows.splitlines():
            pid, name = row.split("|", 1)
            pids[int(pid)] = name
        return pids

    def client_backend_counts(self) -> dict[str, int]:
        """How many client backends the primary has, by application_name."""
        return dict(Counter(self.client_backends().values()))

    def bouncer_show(self, what: str) -> list[dict[str, str]]:
        """The rows of PgBouncer's `SHOW what` (POOLS, SERVERS, CLIENTS), as dicts."""
        result = subprocess.run(
            [str(self.primary.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.bouncer.port),
             "-U", "postgres", "-d", "pgbouncer", "-AF", "\t", "-c", f"SHOW {what}"],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        header, *rows = result.stdout.splitlines()[:-1]  # the last line is "(N rows)"
        names = header.split("\t")
        return [dict(zip(names, row.split("\t"), strict=True)) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=DEFAULT_DELAY, help="replica lag, s")
    parser.add_argument("--database", default="events", help="the database to create")
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE, help="PgBouncer's pool")
    arguments = parser.parse_args()
    # SIGTERM (kill, a supervisor) cleans up as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    started = time.monotonic()
    topology = Topology(arguments.delay, arguments.pool_size).start()
    try:
        topology.create_database(arguments.database)
        print(f"# started in {time.monotonic() - started:.1f} s; Ctrl-C stops and removes it")
        for name, value in topology.env(arguments.database).items():
            print(f"export {name}={value}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        topology.stop()


if __name__ == "__main__":
    main()

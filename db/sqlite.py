"""SQLite, the embedded default: one file, one process, WAL so that reads run beside a write."""

from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from session_events.db.database import Database
from session_events.db.urls import sqlite_file


class SqliteDatabase(Database):
    """One file, one process. The writer holds a single connection, so appends of this process
    queue in the pool instead of failing on SQLite's file lock, and readers run beside it thanks
    to WAL."""

    backend = "sqlite"
    driver = "sqlite+aiosqlite"

    @classmethod
    def prepare(cls, url):
        sqlite_file(url).parent.mkdir(parents=True, exist_ok=True)

    def connect(self, statement_timeout, connect_timeout):
        self.prepare(self.url)
        writer = self.pooled_engine(pool_size=1)
        _prepare_sqlite(writer, "BEGIN IMMEDIATE", statement_timeout)
        # No BEGIN is ever sent on these connections, so there is nothing to roll back.
        reader = self.pooled_engine(pool_size=self.pool_size, pool_reset_on_return=None)
        _prepare_sqlite(reader, None, statement_timeout)
        return writer, reader

    @staticmethod
    def timed_out(error):
        return "interrupted" in str(error)  # the progress handler's deadline (below)


def _prepare_sqlite(engine: AsyncEngine, begin: str | None, statement_timeout: float) -> None:
    """WAL, foreign keys, a busy timeout, a statement timeout and explicit BEGINs.

    The sqlite3 module would otherwise open transactions lazily on the first write, which lets two
    writers both read the session counter before either locks the file. Writes use BEGIN IMMEDIATE
    so they take the write lock before reading anything. SQLite has no statement timeout of its
    own: a progress handler interrupts a statement running past its deadline.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
        deadline = record.info["deadline"] = [None]

        def past_deadline() -> int:
            return int(deadline[0] is not None and time.monotonic() > deadline[0])

        dbapi_connection.run_async(lambda conn: conn.set_progress_handler(past_deadline, 10_000))

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _start_clock(connection, _cursor, _statement, _parameters, _context, _many):
        connection.info["deadline"][0] = time.monotonic() + statement_timeout

    if begin:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection):
            connection.exec_driver_sql(begin)

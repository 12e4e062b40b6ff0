"""What the application asks the database: every statement, whichever way it is run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool


@contextlib.contextmanager
def captured_statements() -> Iterator[list[tuple[str, object]]]:
    """(statement, parameters) of every statement run inside the block by every engine (the
    app's included): SQLite's through SQLAlchemy's cursor events, PostgreSQL's through asyncpg's
    query logger on each connection checked out of a pool (which sees the hot path's too)."""
    seen: list[tuple[str, object]] = []

    def on_cursor(conn, _cursor, statement, parameters, _context, _many):
        if conn.dialect.name != "postgresql":
            seen.append((statement, parameters))

    def on_query(logged):
        seen.append((logged.query, logged.args))

    def on_checkout(dbapi_connection, _record, _proxy):
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "add_query_logger"):
            driver.add_query_logger(on_query)

    def on_checkin(dbapi_connection, _record):
        driver = getattr(dbapi_connection, "driver_connection", None)
        if hasattr(driver, "remove_query_logger"):
            driver.remove_query_logger(on_query)

    event.listen(Engine, "before_cursor_execute", on_cursor)
    event.listen(Pool, "checkout", on_checkout)
    event.listen(Pool, "checkin", on_checkin)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", on_cursor)
        event.remove(Pool, "checkout", on_checkout)
        event.remove(Pool, "checkin", on_checkin)


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """The statements run inside the block, in lower case on one line each."""
    seen: list[str] = []
    with captured_statements() as captured:
        yield seen
    seen.extend(" ".join(statement.split()).lower() for statement, _ in captured)

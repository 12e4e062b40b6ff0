"""What the application asks the database: every statement, via SQLAlchemy or asyncpg directly."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine

from db import engine as db_engine


@contextlib.contextmanager
def captured_statements() -> Iterator[list[tuple[str, object]]]:
    """(statement, parameters) of every statement run inside the block, by every engine (the
    app's included) and by the hot path's DriverReader."""
    seen: list[tuple[str, object]] = []

    def on_cursor(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    def on_driver(statement, parameters):
        seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", on_cursor)
    db_engine.statement_listeners.append(on_driver)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", on_cursor)
        db_engine.statement_listeners.remove(on_driver)


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """The statements run inside the block, in lower case on one line each."""
    seen: list[str] = []
    with captured_statements() as captured:
        yield seen
    seen.extend(" ".join(statement.split()).lower() for statement, _ in captured)

"""session_events/errors.py: which database errors are outages (503), and what they say."""

from __future__ import annotations

import json

from sqlalchemy import exc as sa

from session_events.db.engine import PostgresDatabase, SqliteDatabase
from session_events.db.errors import is_unavailable
from session_events.errors import BUSY, SLOW, UNREACHABLE, database_unavailable


class DriverError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def dbapi(sqlstate: str) -> sa.DBAPIError:
    return sa.DBAPIError("SELECT 1", {}, DriverError(sqlstate))


def answer(error: Exception, database=PostgresDatabase) -> tuple[int, dict, dict]:
    response = database_unavailable(database.timed_out)(None, error)
    return response.status_code, json.loads(response.body), dict(response.headers or {})


def test_outages_are_503_with_retry_after_and_a_sentence():
    cases = [
        (sa.TimeoutError("pool"), BUSY, PostgresDatabase),
        (dbapi("57014"), SLOW, PostgresDatabase),
        (sa.OperationalError("SELECT 1", {}, Exception("interrupted")), SLOW, SqliteDatabase),
        (
            sa.OperationalError("SELECT 1", {}, Exception("interrupted")),
            UNREACHABLE,
            PostgresDatabase,
        ),
        (dbapi("08006"), UNREACHABLE, PostgresDatabase),
        (dbapi("57P01"), UNREACHABLE, PostgresDatabase),
        (ConnectionRefusedError(111, "refused"), UNREACHABLE, SqliteDatabase),
        (sa.InterfaceError("SELECT 1", {}, Exception("closed")), UNREACHABLE, PostgresDatabase),
    ]
    for error, detail, database in cases:
        status, body, headers = answer(error, database)
        assert (status, body["detail"], headers["Retry-After"]) == (503, detail, "1"), error


def test_a_database_error_that_is_a_bug_stays_a_500():
    assert not is_unavailable(dbapi("42601"))  # syntax error
    status, body, _ = answer(dbapi("42601"))
    assert status == 500
    assert body["title"] == "Internal Server Error"

"""What the data layer refuses, as exceptions that carry a sentence for the person who caused it;
and which errors mean the database is out of reach rather than a bug."""

from __future__ import annotations

from sqlalchemy import exc as sa

# Errors that mean "the database is down, restarting, unreachable or too slow", not a bug.
UNAVAILABLE = (sa.OperationalError, sa.InterfaceError, sa.TimeoutError, OSError, TimeoutError)

# PostgreSQL's SQLSTATE codes and classes the service tells apart (SQLite's errors carry none).
# An outage: connection exception, insufficient resources (too many connections), operator
# intervention (shutdown, restart, statement timeout).
OUTAGE_SQLSTATES = ("08", "53", "57")
# The connection itself is gone: connection exception, or the server shutting down (57P).
CONNECTION_GONE = ("08", "57P")
INTEGRITY = "23"  # integrity constraint violation
STATEMENT_TIMEOUT = "57014"  # query_canceled, which statement_timeout raises


def sqlstate_of(error: BaseException) -> str:
    """The SQLSTATE of a driver's error ("" for none)."""
    return str(getattr(error, "sqlstate", "") or "")


def sqlstate(error: BaseException) -> str:
    """The SQLSTATE of the driver's error a SQLAlchemy error wraps ("" for none)."""
    return sqlstate_of(getattr(error, "orig", None))


def postgres_timed_out(error: BaseException) -> bool:
    """Whether PostgreSQL stopped a statement at its deadline: the server's statement_timeout,
    or the driver's deadline behind a pooler."""
    return sqlstate(error) == STATEMENT_TIMEOUT or isinstance(
        getattr(error, "orig", None), TimeoutError
    )


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa.DBAPIError) and (
        error.connection_invalidated or sqlstate(error).startswith(OUTAGE_SQLSTATES)
    ):
        return True
    return isinstance(error, UNAVAILABLE)


class DataError(Exception):
    """Base of the refusals below; `str(error)` is the sentence to show."""


class SessionNotFound(DataError):
    def __init__(self, session_id):
        super().__init__(f"Session not found: {session_id}")


class TokenNotFound(DataError):
    def __init__(self, session_id, token_id):
        super().__init__(
            f"Session {session_id} has no token {token_id}; revoke an id its minting answered, "
            f"or all of them with DELETE /api/v2/sessions/{session_id}/tokens."
        )


class TooManyTokens(DataError):
    def __init__(self, session_id, most: int):
        super().__init__(
            f"Session {session_id} holds {most} live tokens, the most it may; revoke some "
            f"(DELETE /api/v2/sessions/{session_id}/tokens) or let them expire."
        )


class SessionAlreadyExists(DataError):
    def __init__(self, session_id):
        super().__init__(
            f"A session with id {session_id} already exists; omit id to get a new one."
        )


class EventIdConflict(DataError):
    def __init__(self, event_id=None):
        which = f"Event id {event_id} is" if event_id else "An event id of this batch is"
        super().__init__(f"{which} already stored in another session; give this event a new id.")


class ForbiddenTransition(DataError):
    def __init__(self, old: str, new: str, allowed: tuple[str, ...]):
        article = "An" if old[0] in "aeiou" else "A"
        reason = (
            f"from {old} it can become {', '.join(allowed)}"
            if allowed
            else f"{old} is a final status"
        )
        super().__init__(f"{article} {old} session cannot become {new}; {reason}.")

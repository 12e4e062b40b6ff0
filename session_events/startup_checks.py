"""What `serve`, `migrate` and `prune` check before they start, each failure one sentence.

The listening socket is bound before anything touches the database or the disk, and the database
answers one query before the service starts; what stops them is said in a line naming the option
or variable and the cause (the traceback only at EVENTS_LOG_LEVEL=debug).
"""

from __future__ import annotations

import socket

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from session_events.db import migrate
from session_events.db.engine import database_class, open_database
from session_events.db.urls import parse_database_url
from session_events.settings import Settings


class StartupError(Exception):
    """A reason the command cannot start, as a sentence for its user."""


def base_url(host: str, port: int) -> str:
    """http://host:port, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (as uvicorn binds it), or StartupError saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        cause = error.strerror or str(error)
        if isinstance(error, socket.gaierror):
            cause = f"{host!r} is not an address of this machine ({cause})"
        raise StartupError(
            f"cannot listen on {host} port {port} (--host, --port): {cause}"
        ) from None
    sock.set_inheritable(True)
    return sock


def _cause(error: BaseException) -> str:
    """The driver's own sentence for why connecting failed."""
    original = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    original = getattr(original, "__cause__", None) or original  # the adapters wrap asyncpg's
    if isinstance(original, TimeoutError):
        return "no answer in time (EVENTS_DB_CONNECT_TIMEOUT)"
    if isinstance(original, ConnectionRefusedError) or "Connect call failed" in str(original):
        return "connection refused (nothing listens there: is the database server running?)"
    if isinstance(original, OSError) and original.strerror:
        return original.strerror.lower() if original.strerror.isupper() else original.strerror
    return (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )


async def _check_listen_url(settings: Settings) -> None:
    """The direct connection LISTEN takes can be made (a wrong one would leave every waiter
    to its timeout)."""
    url = parse_database_url(settings.listen_database_url)
    try:
        connection = await asyncpg.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            timeout=settings.db_connect_timeout,
        )
        await connection.close()
    except (asyncpg.PostgresError, OSError, TimeoutError) as error:
        where = url.render_as_string(hide_password=True)
        raise StartupError(
            f"EVENTS_LISTEN_DATABASE_URL names {where}, which cannot be used: {_cause(error)}"
        ) from error


async def check_database(settings: Settings, *, migrated: bool = False) -> None:
    """One query on the configured database, or StartupError naming EVENTS_DATABASE_URL; with
    `migrated`, its tables must be at the newest revision too."""
    url = parse_database_url(settings.database_url)
    where = url.render_as_string(hide_password=True)
    try:
        database_class(settings.database_url).prepare(url)
    except OSError as error:
        raise StartupError(
            f"EVENTS_DATABASE_URL names {where}, whose folder cannot be made "
            f"({error.strerror or error})"
        ) from None
    database = open_database(settings, db_pool_size=1)
    try:
        async with database.read() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await migrate.current_revision(database) if migrated else None
    except (DBAPIError, OSError, TimeoutError) as error:
        raise StartupError(
            f"EVENTS_DATABASE_URL names {where}, which cannot be used: {_cause(error)}"
        ) from error
    finally:
        await database.dispose()
    if settings.listen_database_url:
        await _check_listen_url(settings)
    if migrated and revision != migrate.head_revision():
        raise StartupError(
            f"EVENTS_DATABASE_URL names {where}, whose tables are at revision "
            f"{revision or '(none)'}, not {migrate.head_revision()}: run session-events migrate"
        )

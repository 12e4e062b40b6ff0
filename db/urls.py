"""EVENTS_DATABASE_URL read once, with SQLAlchemy's `make_url`: which backend it names, and the
refusals of a URL the service cannot use, each a sentence naming the variable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# What a URL may say for each backend the service runs on ("postgres" is libpq's spelling).
BACKENDS = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}


def parse_database_url(text: str) -> URL:
    """The URL with its backend's plain name as drivername (sqlite or postgresql, any driver
    suffix dropped); ValueError saying what is wrong with it."""
    shape = (
        f"EVENTS_DATABASE_URL must look like sqlite:///path/to/file.db or "
        f"postgresql://user@host:5432/db, not {text!r}"
    )
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError(shape) from None
    named = url.get_backend_name().lower()
    if named not in BACKENDS:
        raise ValueError(f"EVENTS_DATABASE_URL must use sqlite or postgresql, not {named!r}")
    url = url.set(drivername=BACKENDS[named])
    if url.drivername == "sqlite" and (url.host or not url.database):
        raise ValueError(f"EVENTS_DATABASE_URL for SQLite must be sqlite:///path, not {text!r}")
    if not any((url.host, url.database, url.username, url.port, url.query)):
        raise ValueError(shape)
    return url


def url_text(url: URL) -> str:
    """The URL as text, its password included (for drivers and child processes)."""
    return url.render_as_string(hide_password=False)


def sqlite_file(url: URL) -> Path:
    """The file of a SQLite URL: sqlite:///relative/file.db or sqlite:////absolute/file.db."""
    return Path(url.database)

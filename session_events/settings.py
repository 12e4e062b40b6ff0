"""Settings, read once from the environment and passed to whatever needs them.

Each setting is one field of `Settings`: its name, type and default, and in its metadata the
environment variable and the bounds. `load_settings` reads them all the same way.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from session_events.db.urls import parse_database_url, url_text

# The embedded default: a SQLite file in a folder of the working directory.
DEFAULT_DATA_FOLDER = Path(".data")
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_FOLDER}/events.db"


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


def normalise_database_url(url: str) -> str:
    """Accept sqlite:///path and postgresql://... (db/urls.py reads them); refuse anything else
    at start-up."""
    try:
        return url_text(parse_database_url(url))
    except ValueError as error:
        raise SettingsError(str(error)) from None


def keys_from_file(path: str) -> frozenset[str]:
    """The keys of a file, one a line (the Docker and Kubernetes secrets convention)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        cause = getattr(error, "strerror", None) or str(error)
        raise ValueError(f"names {path}, which cannot be read ({cause})") from None
    keys = frozenset(line.strip() for line in text.splitlines() if line.strip())
    if not keys:
        raise ValueError(f"names {path}, which holds no key (one key a line)")
    return keys


def database_urls(text: str) -> tuple[str, ...]:
    """PostgreSQL URLs separated by commas, in order, each read as EVENTS_DATABASE_URL is."""
    listed = tuple(dict.fromkeys(entry.strip() for entry in text.split(",") if entry.strip()))
    if not listed:
        raise ValueError(f"holds no entry ({text!r}): list them separated by commas, or unset it")
    urls = tuple(normalise_database_url(url) for url in listed)
    for url in urls:
        if not url.startswith("postgresql"):
            raise ValueError("lists a URL that is not postgresql://: replicas are PostgreSQL's")
    return urls


def comma_list(text: str) -> frozenset[str]:
    """The entries of a comma-separated list, stripped of spaces; a list of none is refused
    (an empty variable counts as unset, so only commas and spaces get here)."""
    entries = frozenset(entry.strip() for entry in text.split(",") if entry.strip())
    if not entries:
        raise ValueError(f"holds no entry ({text!r}): list them separated by commas, or unset it")
    return entries


def token_secrets(text: str) -> tuple[str, ...]:
    """Signing secrets in order (the first signs, all verify), each long enough for HS256."""
    listed = tuple(dict.fromkeys(entry.strip() for entry in text.split(",") if entry.strip()))
    if not listed:
        raise ValueError(f"holds no entry ({text!r}): list them separated by commas, or unset it")
    short = [i + 1 for i, entry in enumerate(listed) if len(entry.encode()) < 32]
    if short:
        raise ValueError(
            f"has a secret shorter than 32 bytes (number {', '.join(map(str, short))}); make "
            "one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return listed


def origins(text: str) -> frozenset[str]:
    """CORS origins as a browser sends them in its Origin header (scheme://host[:port]), or *.

    Starlette compares origins as text, so one written otherwise would refuse every preflight.
    """
    listed = comma_list(text)
    for origin in listed - {"*"}:
        sent = _as_browsers_send(origin)
        if sent != origin:
            raise ValueError(
                f"lists {origin!r}, which is not an origin: write it as a browser sends it, "
                f"scheme and host (and a port if not the default), such as {sent}"
            )
    return listed


DEFAULT_PORTS = {"http": 80, "https": 443}


def _as_browsers_send(origin: str) -> str:
    """The origin as a browser serializes it: lower case, no default port, no path."""
    parts = urlsplit(origin if "://" in origin else f"https://{origin}")
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    shown_port = f":{port}" if port and port != DEFAULT_PORTS.get(parts.scheme.lower()) else ""
    return f"{parts.scheme.lower()}://{host}{shown_port}"


def setting(
    default: Any,
    variable: str,
    *,
    minimum: float | None = None,
    choices: tuple[str, ...] = (),
    parse: Callable[[str], Any] | None = None,
) -> Any:
    """A field of Settings read from `variable`: numbers at least `minimum`, text one of
    `choices` (lower-cased), or text turned into the value by `parse`."""
    metadata = {"variable": variable, "minimum": minimum, "choices": choices, "parse": parse}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    database_url: str = setting(
        DEFAULT_DATABASE_URL, "EVENTS_DATABASE_URL", parse=normalise_database_url
    )
    read_keys: frozenset[str] = setting(frozenset(), "EVENTS_READ_KEYS", parse=comma_list)
    write_keys: frozenset[str] = setting(frozenset(), "EVENTS_WRITE_KEYS", parse=comma_list)
    read_keys_file: frozenset[str] = setting(
        frozenset(), "EVENTS_READ_KEYS_FILE", parse=keys_from_file
    )
    write_keys_file: frozenset[str] = setting(
        frozenset(), "EVENTS_WRITE_KEYS_FILE", parse=keys_from_file
    )
    # Origins whose pages may call the API (CORS), or * for any; none by default.
    cors_origins: frozenset[str] = setting(frozenset(), "EVENTS_CORS_ORIGINS", parse=origins)
    max_body_bytes: int = setting(4 * 1024 * 1024, "EVENTS_MAX_BODY_BYTES", minimum=1)
    # How long a request body may go without a byte arriving before the request is cut.
    body_timeout: float = setting(30.0, "EVENTS_BODY_TIMEOUT_SECONDS", minimum=0.1)
    auto_migrate: bool = setting(True, "EVENTS_AUTO_MIGRATE")
    validate_responses: bool = setting(True, "EVENTS_VALIDATE_RESPONSES")
    log_format: str = setting("auto", "EVENTS_LOG_FORMAT", choices=("auto", "json", "console"))
    log_level: str = setting(
        "info", "EVENTS_LOG_LEVEL", choices=("debug", "info", "warning", "error")
    )
    db_pool_size: int = setting(10, "EVENTS_DB_POOL_SIZE", minimum=1)
    db_pool_timeout: float = setting(10.0, "EVENTS_DB_POOL_TIMEOUT", minimum=0.1)
    stream_heartbeat_seconds: float = setting(15.0, "EVENTS_STREAM_HEARTBEAT_SECONDS", minimum=0.1)
    # What a stream may hold unwritten before it is ended for a client reading too slowly.
    stream_queue_bytes: int = setting(1024 * 1024, "EVENTS_STREAM_QUEUE_BYTES", minimum=1024)
    db_statement_timeout: float = setting(5.0, "EVENTS_DB_STATEMENT_TIMEOUT", minimum=0.1)
    db_connect_timeout: float = setting(5.0, "EVENTS_DB_CONNECT_TIMEOUT", minimum=0.1)
    shutdown_timeout: float = setting(20.0, "EVENTS_SHUTDOWN_TIMEOUT", minimum=0.1)
    max_events_per_batch: int = setting(1000, "EVENTS_MAX_EVENTS_PER_BATCH", minimum=1)
    max_message_length: int = setting(1048576, "EVENTS_MAX_MESSAGE_LENGTH", minimum=1)
    max_event_data_bytes: int = setting(1048576, "EVENTS_MAX_EVENT_DATA_BYTES", minimum=1)
    # How long a deleted session's tombstone is kept: the sessions stream resumes a
    # Last-Event-ID at most this old (older ones get a fresh snapshot).
    session_tombstone_seconds: float = setting(
        86400.0, "EVENTS_SESSION_TOMBSTONE_SECONDS", minimum=60
    )
    # Session tokens: signed with the first secret, checked against all of them (rotation).
    # None set: one is made (and kept in .data/ for the embedded default database).
    token_secrets: tuple[str, ...] = setting((), "EVENTS_TOKEN_SECRETS", parse=token_secrets)
    # A token's lifetime when none is asked for, and the longest one that may be asked for.
    token_ttl_seconds: int = setting(3600, "EVENTS_TOKEN_TTL_SECONDS", minimum=1)
    token_max_ttl_seconds: int = setting(30 * 86400, "EVENTS_TOKEN_MAX_TTL_SECONDS", minimum=1)

    # The direct connection of each process that LISTENs for appends; a transaction pooler
    # cannot carry LISTEN. Unset: EVENTS_DATABASE_URL.
    listen_database_url: str = setting(
        "", "EVENTS_LISTEN_DATABASE_URL", parse=normalise_database_url
    )
    # `transaction`: EVENTS_DATABASE_URL leads to PgBouncer (or another pooler) in transaction
    # mode, which shares each server connection between clients transaction by transaction.
    database_pooler: str = setting(
        "none", "EVENTS_DATABASE_POOLER", choices=("none", "transaction")
    )
    # Streaming replicas that serve reads, in order of preference.
    replica_urls: tuple[str, ...] = setting((), "EVENTS_REPLICA_URLS", parse=database_urls)
    # A replica further behind the primary than this is not read from.
    replica_max_lag_seconds: float = setting(5.0, "EVENTS_REPLICA_MAX_LAG_SECONDS", minimum=0.01)
    # How long a read that must see a position waits for a replica before it reads the primary.
    replica_wait_seconds: float = setting(0.1, "EVENTS_REPLICA_WAIT_SECONDS", minimum=0)

    def __post_init__(self):
        if self.token_ttl_seconds > self.token_max_ttl_seconds:
            raise SettingsError(
                f"EVENTS_TOKEN_TTL_SECONDS ({self.token_ttl_seconds}) is longer than "
                f"EVENTS_TOKEN_MAX_TTL_SECONDS ({self.token_max_ttl_seconds}); shorten the first "
                "or lengthen the second"
            )
        postgres = self.database_url.startswith("postgresql")
        beyond_one = {
            "EVENTS_LISTEN_DATABASE_URL": self.listen_database_url,
            "EVENTS_REPLICA_URLS": self.replica_urls,
            "EVENTS_DATABASE_POOLER": self.database_pooler != "none",
        }
        for variable, value in beyond_one.items():
            if value and not postgres:
                raise SettingsError(
                    f"{variable} needs a PostgreSQL EVENTS_DATABASE_URL; the embedded SQLite "
                    "database has no listener, pooler or replicas"
                )
        if self.database_pooler == "transaction" and not self.listen_database_url:
            raise SettingsError(
                "EVENTS_DATABASE_POOLER=transaction needs EVENTS_LISTEN_DATABASE_URL: LISTEN "
                "does not pass through a transaction pooler, so name the primary itself there"
            )
        if self.listen_database_url and not self.listen_database_url.startswith("postgresql"):
            raise SettingsError("EVENTS_LISTEN_DATABASE_URL must be a postgresql:// URL")

    @property
    def listen_url(self) -> str:
        """Where this process LISTENs: EVENTS_LISTEN_DATABASE_URL, else EVENTS_DATABASE_URL."""
        return self.listen_database_url or self.database_url

    @property
    def every_read_key(self) -> frozenset[str]:
        """The read keys of EVENTS_READ_KEYS and of EVENTS_READ_KEYS_FILE."""
        return self.read_keys | self.read_keys_file

    @property
    def every_write_key(self) -> frozenset[str]:
        """The write keys of EVENTS_WRITE_KEYS and of EVENTS_WRITE_KEYS_FILE."""
        return self.write_keys | self.write_keys_file


TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def _value(kind: Any, text: str, variable: str, minimum, choices, parse) -> Any:
    """The text of `variable` read as a value of `kind`, or SettingsError saying what is wrong."""
    if parse is not None:
        try:
            return parse(text)
        except SettingsError:
            raise
        except ValueError as error:
            raise SettingsError(f"{variable} {error}") from None
    if kind is bool:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise SettingsError(f"{variable} must be true or false, not {text!r}")
    if kind in (int, float):
        try:
            number = kind(text)
        except ValueError:
            raise SettingsError(f"{variable} must be a number, not {text!r}") from None
        if not math.isfinite(number) or (minimum is not None and number < minimum):
            raise SettingsError(f"{variable} must be at least {minimum}, not {text!r}")
        return number
    if choices and text.lower() not in choices:
        raise SettingsError(f"{variable} must be one of {', '.join(choices)}, not {text!r}")
    return text.lower() if choices else text


def load_settings(environ: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Read EVENTS_* variables (an empty one counts as unset); raise SettingsError with a
    readable message on a bad value."""
    env = os.environ if environ is None else environ
    kinds = get_type_hints(Settings)
    values = {}
    for declared in fields(Settings):
        text = env.get(declared.metadata["variable"]) or ""
        if text:
            values[declared.name] = _value(kinds[declared.name], text, **declared.metadata)
    values.update(overrides)
    return Settings(**values)


def environment_help(*names: str) -> str:
    """The variables of these settings (all by default) with their defaults, for --help."""
    lines = ["environment variables (an empty one counts as unset):"]
    for declared in fields(Settings):
        if names and declared.name not in names:
            continue
        default = declared.default
        if isinstance(default, frozenset | tuple):
            shown = ",".join(sorted(default))
        else:
            shown = str(default).lower() if isinstance(default, bool) else str(default)
        lines.append(f"  {declared.metadata['variable']:<34} default: {shown or '(none)'}")
    return "\n".join(lines)

"""Settings, read once from the environment and passed to whatever needs them."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///.data/events.db"


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    read_keys: frozenset[str] = field(default_factory=frozenset)
    write_keys: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = 4 * 1024 * 1024
    auto_migrate: bool = True
    validate_responses: bool = True
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    db_pool_size: int = 10
    db_pool_timeout: float = 10.0
    stream_heartbeat_seconds: float = 15.0
    db_statement_timeout: float = 5.0
    db_connect_timeout: float = 5.0
    shutdown_timeout: float = 20.0
    max_events_per_batch: int = 1000
    max_message_length: int = 1048576
    max_event_data_bytes: int = 1048576

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.database_url.split(":", 1)[0]


def _keys(value: str | None) -> frozenset[str]:
    return frozenset(k.strip() for k in (value or "").split(",") if k.strip())


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _number(name: str, value: str | None, default, kind=int, minimum=1):
    if value is None or value == "":
        return default
    try:
        number = kind(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value!r}")
    return number


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(name, env.get(name), default, kind=float, minimum=0.1)


def _choice(name: str, value: str | None, default: str, choices: tuple[str, ...]) -> str:
    if value is None or value == "":
        return default
    if value.lower() not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value.lower()


def normalise_database_url(url: str) -> str:
    """Accept sqlite:///path and postgresql://...; refuse anything else at start-up."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.split("+", 1)[0].lower()
    if not sep or not rest:
        raise SettingsError(
            f"EVENTS_DATABASE_URL must look like sqlite:///path/to/file.db or "
            f"postgresql://user@host:5432/db, not {url!r}"
        )
    if scheme == "postgres":
        scheme = "postgresql"
    if scheme not in ("sqlite", "postgresql"):
        raise SettingsError(f"EVENTS_DATABASE_URL must use sqlite or postgresql, not {scheme!r}")
    if scheme == "sqlite" and not rest.startswith("/"):
        raise SettingsError(f"EVENTS_DATABASE_URL for SQLite must be sqlite:///path, not {url!r}")
    return f"{scheme}://{rest}"


def load_settings(environ: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Read EVENTS_* variables; raise SettingsError with a readable message on a bad value."""
    env = os.environ if environ is None else environ
    values = dict(
        database_url=normalise_database_url(env.get("EVENTS_DATABASE_URL") or DEFAULT_DATABASE_URL),
        read_keys=_keys(env.get("EVENTS_READ_KEYS")),
        write_keys=_keys(env.get("EVENTS_WRITE_KEYS")),
        max_body_bytes=_number(
            "EVENTS_MAX_BODY_BYTES", env.get("EVENTS_MAX_BODY_BYTES"), Settings.max_body_bytes
        ),
        auto_migrate=_bool("EVENTS_AUTO_MIGRATE", env.get("EVENTS_AUTO_MIGRATE"), True),
        validate_responses=_bool(
            "EVENTS_VALIDATE_RESPONSES", env.get("EVENTS_VALIDATE_RESPONSES"), True
        ),
        log_format=_choice(
            "EVENTS_LOG_FORMAT", env.get("EVENTS_LOG_FORMAT"), "auto", ("auto", "json", "console")
        ),
        log_level=_choice(
            "EVENTS_LOG_LEVEL",
            env.get("EVENTS_LOG_LEVEL"),
            "info",
            ("debug", "info", "warning", "error"),
        ),
        db_pool_size=_number("EVENTS_DB_POOL_SIZE", env.get("EVENTS_DB_POOL_SIZE"), 10),
        db_pool_timeout=_seconds(env, "EVENTS_DB_POOL_TIMEOUT", 10.0),
        stream_heartbeat_seconds=_seconds(env, "EVENTS_STREAM_HEARTBEAT_SECONDS", 15.0),
        db_statement_timeout=_seconds(env, "EVENTS_DB_STATEMENT_TIMEOUT", 5.0),
        db_connect_timeout=_seconds(env, "EVENTS_DB_CONNECT_TIMEOUT", 5.0),
        shutdown_timeout=_seconds(env, "EVENTS_SHUTDOWN_TIMEOUT", 20.0),
        max_events_per_batch=_number(
            "EVENTS_MAX_EVENTS_PER_BATCH", env.get("EVENTS_MAX_EVENTS_PER_BATCH"), 1000
        ),
        max_message_length=_number(
            "EVENTS_MAX_MESSAGE_LENGTH", env.get("EVENTS_MAX_MESSAGE_LENGTH"), 1048576
        ),
        max_event_data_bytes=_number(
            "EVENTS_MAX_EVENT_DATA_BYTES", env.get("EVENTS_MAX_EVENT_DATA_BYTES"), 1048576
        ),
    )
    values.update(overrides)
    return Settings(**values)


def sqlite_path(database_url: str) -> Path:
    """The file of a SQLite URL: sqlite:///relative/file.db or sqlite:////absolute/file.db."""
    return Path(database_url.split("://", 1)[1][1:])

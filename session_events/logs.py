"""structlog, configured once: JSON lines when not on a terminal, readable lines on one.

The service's own loggers (structlog) render and write their lines themselves: the access log
writes one line per request, and the standard library's path (a LogRecord, a handler, a
formatter) cost 75 us of it against 14 (perf/RESULTS.md). The standard library's loggers
(uvicorn, Connexion, SQLAlchemy, Alembic) go through the same processors and renderer, to the
same stream, so an operator's log has one format.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

import orjson
import structlog

_configured = False

# The id of the request being served (session_events/middleware.py sets it), on every line logged
# while serving it: the one context the service binds. One ContextVar read by one processor, where
# structlog's merge_contextvars copied the whole context for every line, and bind/unbind made a
# tenth of an access line.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def add_request_id(_logger, _method, event: dict) -> dict:
    current = request_id.get()
    if current is not None:
        event.setdefault("request_id", current)
    return event


class _NamedLineLogger(structlog.WriteLogger):
    """A line writer that knows its logger's name, as stdlib loggers do (for `logger`)."""

    def __init__(self, file: TextIO, name: str):
        super().__init__(file)
        self.name = name


class _UTCStamp:
    """`timestamp`: the UTC time with microseconds, 2026-11-26T14:00:00.123456Z. The date and
    time of day are formatted once a second (structlog's TimeStamper built a datetime and its ISO
    text for every line: a sixth of an access line's instructions)."""

    def __init__(self):
        self.formatted = (-1, "")  # (second, its text): one attribute, replaced whole (threads)

    def __call__(self, _logger, _method, event: dict) -> dict:
        # To the nearest microsecond, as datetime.fromtimestamp rounds (carrying into the next
        # second when it rounds up to it).
        second, micro = divmod(round(time.time() * 1_000_000), 1_000_000)
        formatted_second, text = self.formatted
        if second != formatted_second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.formatted = (second, text)
        event["timestamp"] = f"{text}.{micro:06d}Z"
        return event


def _json_text(event: dict, **options: Any) -> str:
    return orjson.dumps(
        event, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS
    ).decode()


def configure_logging(log_format: str = "auto", level: str = "info") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    json_lines = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared = [
        add_request_id,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        _UTCStamp(),
    ]
    rendering = [
        structlog.processors.format_exc_info if json_lines else lambda _l, _m, e: e,
        structlog.processors.JSONRenderer(serializer=_json_text)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
    ]
    stream = sys.stderr
    structlog.configure(
        processors=[*shared, *rendering],
        logger_factory=lambda name="session_events", *_: _NamedLineLogger(stream, name),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Records need neither the caller's frame nor thread and process names (the logging HOWTO's
    # "optimization" section): finding the frame alone cost a tenth of a log line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # Our access line covers every request; these would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("connexion.middleware.exceptions").setLevel(logging.ERROR)
    # Drivers log statements with their parameters (event payloads) at DEBUG: never show those.
    for name in ("httpx", "aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True

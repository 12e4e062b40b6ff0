"""structlog, configured once: JSON lines when not on a terminal, readable lines on one.

The service's own loggers (`structlog.get_logger(...)`) render their lines in structlog and
write them straight to the stream (structlog's WriteLogger): the access log writes one line per
request, and the standard library's records, handlers and formatters would multiply its cost.
Their lines are known by their `event`. The other libraries' loggers (uvicorn, Connexion,
SQLAlchemy, Alembic) go through the same processors and renderer, with their logger's name, to
the same stream, so an operator's log has one format.

Values bound with `structlog.contextvars.bind_contextvars` (the access log binds the request id)
are on every line logged in that context, from either kind of logger.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import orjson
import structlog


def _json_text(event: dict, **options: Any) -> str:
    return orjson.dumps(
        event, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS
    ).decode()


def _shared() -> list:
    """What every line gets, whichever logger wrote it."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _rendering(json_lines: bool, colors: bool) -> list:
    if json_lines:
        return [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_json_text),
        ]
    return [structlog.dev.ConsoleRenderer(colors=colors)]


def service_processors(json_lines: bool = True, colors: bool = False) -> list:
    """The processors of the service's own loggers, from the event to the text of its line."""
    return [*_shared(), *_rendering(json_lines, colors)]


def stdlib_formatter(json_lines: bool = True, colors: bool = False) -> logging.Formatter:
    """The formatter of the standard library's loggers: their lines in the same format."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_rendering(json_lines, colors),
        ],
    )


class LogStream:
    """The stream the log is written to, where a line that cannot be written is dropped: a log
    reader that went away (a closed pipe, a full disk) must not fail the request being logged,
    which would close its connection with the pipelined requests behind it."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    # try/except rather than contextlib.suppress: free when nothing is raised, and this runs
    # for every log line.
    def write(self, text: str) -> None:
        try:  # noqa: SIM105
            self.stream.write(text)
        except (OSError, ValueError):  # ValueError: the stream was closed
            pass

    def flush(self) -> None:
        try:  # noqa: SIM105
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return self.stream.isatty()


UVICORN_SAYS_LESS = (
    "Invalid HTTP request received.",
    "Unsupported upgrade request.",
    "No supported WebSocket library detected.",
)
# Alembic says these each time it looks at a database, which /readyz does at every probe;
# its "Running upgrade" lines, the ones that tell something, stay.
ALEMBIC_SAYS_LESS = ("Context impl ", "Will assume ")
_configured = False


def configure_logging(
    log_format: str = "auto", level: str = "info", stream: TextIO | None = None
) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    stream = LogStream(stream or sys.stderr)
    on_terminal = stream.isatty()
    json_lines = log_format == "json" or (log_format == "auto" and not on_terminal)
    structlog.configure(
        processors=service_processors(json_lines, on_terminal),
        logger_factory=structlog.WriteLoggerFactory(stream),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(stdlib_formatter(json_lines, on_terminal))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Records need neither thread nor process names (the logging HOWTO's "optimization").
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
    # Each refusal of the HTTP edge is logged once, by session_events/http_protocol.py, with
    # its status and what was wrong; uvicorn's lines say less. An upgrade (`curl --http2`'s
    # h2c, say) is answered over HTTP/1.1, which is no WebSocket library missing.
    logging.getLogger("uvicorn.error").addFilter(
        lambda record: not record.getMessage().startswith(UVICORN_SAYS_LESS)
    )
    logging.getLogger("alembic.runtime.migration").addFilter(
        lambda record: not record.getMessage().startswith(ALEMBIC_SAYS_LESS)
    )

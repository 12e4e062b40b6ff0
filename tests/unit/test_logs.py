"""The log lines of both kinds of logger: JSON with a UTC timestamp, the level, the values bound
in the context (the request id), and for the libraries' loggers their name."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime, timedelta

import orjson
import structlog

from session_events.logs import service_processors, stdlib_formatter

UTC_MICROSECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def written_by(logger: logging.Logger, formatter: logging.Formatter, log) -> dict:
    """The one line `log()` makes `logger` write through a handler with `formatter`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        log()
    finally:
        logger.removeHandler(handler)
    return orjson.loads(stream.getvalue())


def service_line() -> dict:
    """The line a service logger writes for `info("thing_done", count=3)`."""
    stream = io.StringIO()
    service = structlog.wrap_logger(
        structlog.WriteLogger(stream),
        processors=service_processors(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    service.info("thing_done", count=3)
    return orjson.loads(stream.getvalue())


def stdlib_line(name: str) -> dict:
    logger = logging.getLogger(name)
    return written_by(
        logger, stdlib_formatter(), lambda: logger.warning("Something %s", "happened")
    )


def test_a_service_line_has_its_event_values_level_and_utc_time():
    line = service_line()
    assert {key: line[key] for key in ("event", "count", "level")} == {
        "event": "thing_done",
        "count": 3,
        "level": "info",
    }
    assert UTC_MICROSECONDS.fullmatch(line["timestamp"])
    stamped = datetime.fromisoformat(line["timestamp"])
    assert abs(stamped - datetime.now(UTC)) < timedelta(seconds=5)


def test_values_bound_in_the_context_are_on_every_line_until_reset():
    bound = structlog.contextvars.bind_contextvars(request_id="abc-123")
    try:
        assert service_line()["request_id"] == "abc-123"
        assert stdlib_line("tests.bound")["request_id"] == "abc-123"
    finally:
        structlog.contextvars.reset_contextvars(**bound)
    assert "request_id" not in service_line()
    assert "request_id" not in stdlib_line("tests.unbound")


def test_a_standard_library_line_has_the_same_shape_with_its_logger_name():
    line = stdlib_line("uvicorn.error.test")
    assert {key: line[key] for key in ("event", "level", "logger")} == {
        "event": "Something happened",
        "level": "warning",
        "logger": "uvicorn.error.test",
    }
    assert UTC_MICROSECONDS.fullmatch(line["timestamp"])

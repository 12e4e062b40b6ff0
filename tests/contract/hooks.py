"""Adjustments of the requests schemathesis sends, made before each is sent, in every phase.

Loaded with SCHEMATHESIS_HOOKS=tests.contract.hooks.

- `until_seq` must not be below `after_seq` (a 400 otherwise, documented on the parameter); no
  schema keyword relates two parameters, so schemathesis would count that 400 on a generated pair
  as a valid request rejected. Such a pair is sent in order. So is a `created_before` before
  `created_after` (GET /sessions).
- `wait` holds a request up to 30 s when nothing is new, longer than schemathesis waits for an
  answer; it is cut to one second, which still exercises the long-poll path.
- schemathesis 4.32's coverage phase makes cases it counts as valid whose headers it drew as
  invalid (`Events-Position: 0`, which the header's pattern `X/Y` refuses), then counts the 400
  as a valid request rejected. In a case counted as valid, such a value is sent as a position
  (`0/0`); the cases counted as invalid keep theirs, and the 400 they get is checked.

And how an events export (application/x-ndjson, one Event a line) is read back: schemathesis
knows no NDJSON. Every line must be a JSON document ending with a newline; schemathesis checks
the first against the response's schema (`Event`), and the server's own response validation
has checked every line against it before sending it (session_events/line_checks.py).
"""

import json
from datetime import datetime

import schemathesis

# The server's reading of a position (stdlib only, so importable in schemathesis' environment).
from session_events.db.positions import parse as position_of


def _seq(value):
    """A generated seq as a number: drawn as an int, or as text in some phases; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _instant(value):
    """A generated RFC 3339 date-time as an aware datetime, near enough to order two: a leap
    second read as the second before it, year 0 as year 1 (the server reads both exactly)."""
    text = value.upper()
    if text[17:19] == "60":
        text = f"{text[:17]}59{text[19:]}"
    if text.startswith("0000"):
        text = f"0001{text[4:]}"
    return datetime.fromisoformat(text)


def _before(one, other) -> bool:
    """Whether generated date-time `one` is an instant before `other` (False when either is
    missing or cannot be read)."""
    try:
        return _instant(one) < _instant(other)
    except (AttributeError, ValueError, OverflowError):
        return False


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    query = case.query or {}
    after, until = _seq(query.get("after_seq")), _seq(query.get("until_seq"))
    if after is not None and until is not None and until < after:
        query["after_seq"], query["until_seq"] = query["until_seq"], query["after_seq"]
    if _before(query.get("created_before"), query.get("created_after")):
        query["created_after"], query["created_before"] = (
            query["created_before"],
            query["created_after"],
        )
    wait = _seq(query.get("wait"))
    if wait is not None and wait > 1:
        query["wait"] = 1
    headers = case.headers or {}
    position = headers.get("Events-Position")
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if position is not None and positive and position_of(str(position)) is None:
        headers["Events-Position"] = "0/0"


@schemathesis.deserializer("application/x-ndjson")
def ndjson(ctx, response):
    body = response.content
    if not body:
        raise NotImplementedError("an empty export: no document to check")
    if not body.endswith(b"\n"):
        raise ValueError("the export's last line has no newline: the body was cut short")
    documents = [json.loads(line) for line in body[:-1].split(b"\n")]
    return documents[0]

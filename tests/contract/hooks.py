"""Adjustments of the requests schemathesis sends, made before each is sent, in every phase.

Loaded with SCHEMATHESIS_HOOKS=tests.contract.hooks.

- `until_seq` must not be below `after_seq` (a 400 otherwise, documented on the parameter); no
  schema keyword relates two parameters, so schemathesis would count that 400 on a generated pair
  as a valid request rejected. Such a pair is sent in order.
- `wait` holds a request up to 30 s when nothing is new, longer than schemathesis waits for an
  answer; it is cut to one second, which still exercises the long-poll path.

And how an events export (application/x-ndjson, one Event a line) is read back: schemathesis
knows no NDJSON. Every line must be a JSON document ending with a newline; schemathesis checks
the first against the response's schema (`Event`), and the server's own response validation
has checked every line against it before sending it (session_events/line_checks.py).
"""

import json

import schemathesis


def _seq(value):
    """A generated seq as a number: drawn as an int, or as text in some phases; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    query = case.query or {}
    after, until = _seq(query.get("after_seq")), _seq(query.get("until_seq"))
    if after is not None and until is not None and until < after:
        query["after_seq"], query["until_seq"] = query["until_seq"], query["after_seq"]
    wait = _seq(query.get("wait"))
    if wait is not None and wait > 1:
        query["wait"] = 1


@schemathesis.deserializer("application/x-ndjson")
def ndjson(ctx, response):
    body = response.content
    if not body:
        raise NotImplementedError("an empty export: no document to check")
    if not body.endswith(b"\n"):
        raise ValueError("the export's last line has no newline: the body was cut short")
    documents = [json.loads(line) for line in body[:-1].split(b"\n")]
    return documents[0]

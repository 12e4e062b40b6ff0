"""Validation failures as sentences naming the parameter or body field and what it must be."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs

from session_events.schemas import KEYWORDS, UUID_PATTERN
from session_events.tokens import looks_like_token

FORMAT_PHRASES = {
    "date-time": "an RFC 3339 date-time with an offset, such as 2026-01-13T14:30:00Z",
    "uuid": "a UUID, such as 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
}
TYPE_PHRASES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a JSON array",
    "null": "null",
}


def _shown(value: Any) -> str:
    if looks_like_token(value):
        return "what looks like a bearer token, not repeated here: send it as Authorization: Bearer"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_at(schema: dict, path: list) -> dict:
    for step in path:
        schema = schema[step]
    return schema


def describe(error: jsonschema_rs.ValidationError, name: str, schema: dict) -> str:
    """A sentence naming `name` (or the field inside it) and what it must be.

    `name` is a parameter's name, or "" for a body, whose fields are then named by their path.
    """
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
    where = f"{name}{path}" if name else (path.lstrip(".") or "The request body")
    keyword, limit = error.kind.name, error.kind.value
    if keyword == "pattern" and limit == UUID_PATTERN:
        keyword, limit = "format", "uuid"
    if keyword == "type":
        types = [limit] if isinstance(limit, str) else list(limit)
        rule = "must be " + " or ".join(TYPE_PHRASES.get(t, t) for t in types)
    elif keyword == "format":
        rule = "must be " + FORMAT_PHRASES.get(limit, f"a {limit}")
    elif keyword in ("minimum", "maximum"):
        rule = f"must be at {'least' if keyword == 'minimum' else 'most'} {limit}"
    elif keyword in ("minLength", "maxLength"):
        characters = "character" if limit == 1 else "characters"
        rule = (
            f"must be at {'least' if keyword == 'minLength' else 'most'} {limit} {characters} long"
        )
    elif keyword in ("minItems", "maxItems"):
        items = "item" if limit == 1 else "items"
        rule = f"must hold at {'least' if keyword == 'minItems' else 'most'} {limit} {items}"
    elif keyword == "pattern":
        rule = f"must match the pattern {limit}"
    elif keyword == "enum":
        rule = "must be one of " + ", ".join(_shown(option) for option in limit)
    elif keyword == "not":
        reason = _schema_at(schema, error.schema_path).get("description", "").strip()
        rule = f"may not be {_shown(error.instance)}" + (f": {reason}" if reason else "")
        return f"{where} {rule}."
    elif keyword == "required":
        return f"{where} is missing the required field {limit!r}."
    elif keyword == "additionalProperties":
        allowed = sorted(_schema_at(schema, error.schema_path[:-1]).get("properties", {}))
        return (
            f"{where} has unknown field(s) {', '.join(map(repr, limit))}; "
            f"the fields allowed are {', '.join(allowed) or 'none'}."
        )
    elif keyword in KEYWORDS:
        return f"{where} {error.message}."
    else:
        return f"{where} is invalid: {error.message}."
    return f"{where} {rule} (got {_shown(error.instance)}).{_plus_hint(keyword, error.instance)}"


# An offset whose + a query string turned into a space: 2026-01-13T14:30:00 02:00.
SPACED_OFFSET = re.compile(r"\d\d:\d\d(\.\d+)? (\d\d:\d\d)$")


def _plus_hint(keyword: str, value: Any) -> str:
    """For a date-time whose offset lost its +, how to send one."""
    if keyword != "format" or not isinstance(value, str):
        return ""
    spaced = SPACED_OFFSET.search(value)
    if spaced is None:
        return ""
    return f" A + in a URL's query string reads as a space: send the offset as %2B{spaced[2]}."

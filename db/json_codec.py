"""JSON text in and out of the service, under one number rule: I-JSON (RFC 7493).

A number must fit an IEEE 754 double: one that would parse as infinity (`1e400`, an integer of
400 digits) is refused where JSON comes in. Everything within that range is kept as sent,
integers beyond 64 bits included (the standard library's parser keeps them exact), so whatever
the service stores it can serve. orjson, which reads the service's own responses back for
response validation, refuses exactly the numbers this rule refuses.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


class OutOfRange(ValueError):
    """A number beyond the range of a double; `path` names where it is (`a.b[2]`, "" for the
    document itself)."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text if len(text) <= 40 else text[:37] + "..."
        super().__init__(f"{path or 'the document'} holds the number {self.text}")


class _Beyond:
    """Stands for an out-of-range number while parsing, so that its place can be found after."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _number(text: str, kind) -> Any:
    return _Beyond(text) if math.isinf(float(text)) else kind(text)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _parse_int(text: str) -> Any:
    return int(text) if len(text) < 300 else _number(text, int)


def _parse_float(text: str) -> Any:
    return _number(text, float)


# Every digit as 0, to find a run of 19 of them: an integer that may lie beyond 64 bits, which
# orjson would read as a double. (A translate and a find, because a regular expression is far
# slower: perf/RESULTS.md.)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def loads(text: str) -> Any:
    """Parse JSON text by the rule; ValueError (json.JSONDecodeError) for text that is not JSON,
    OutOfRange for a number beyond a double. RecursionError for a document nested too deeply."""
    if _LONG_DIGITS not in text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZERO):
        # orjson reads such text as the rule does and refuses what it refuses; what it refuses
        # (or a lone surrogate, which the rule accepts) is read again below, to say why.
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    value = json.loads(
        text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
    )
    found = _first_beyond(value) if ("e" in text or "E" in text or len(text) >= 300) else None
    if found is not None:
        raise OutOfRange(*found)
    return value


def _first_beyond(value: Any) -> tuple[str, str] | None:
    """(path, text) of the first out-of-range number in document order; iterative, so that a
    document nested as deeply as json.loads allows cannot exhaust the stack."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, _Beyond):
            return path, item.text
        if isinstance(item, dict):
            prefix = f"{path}." if path else ""
            pending.extend((f"{prefix}{key}", sub) for key, sub in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((f"{path}[{n}]", sub) for n, sub in reversed(list(enumerate(item))))
    return None


# How deeply objects and arrays may nest in a document that comes in (the document itself is 1):
# well within what every part of the service handles (the standard library's parser and
# jsonschema-rs's errors near 1,000 levels, SQLite's JSON functions at 1,000).
MAX_DEPTH = 512


def deeper_than(limit: int, text: str, value: Any) -> bool:
    """Whether `value` (parsed from `text`) nests objects and arrays more than `limit` deep."""
    if text.count("{") + text.count("[") <= limit:  # too few brackets to go that deep
        return False
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth == limit:
                    return True
                pending.append((child, depth + 1))
    return False


def loads_response(body: bytes) -> Any:
    """A body the service produced, read back (for response validation): orjson's reading, which
    refuses exactly what `loads` refuses but reads integers beyond 64 bits as doubles."""
    return orjson.loads(body)


def loads_exact(body: bytes) -> Any:
    """A body the service produced, read with every integer exact: for the rare body that
    `loads_response`'s doubles made fail a check (a page number beyond 64 bits)."""
    return json.loads(body)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON on one line (line breaks inside strings are escaped)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits, or nesting deeper than orjson writes
        pass
    try:
        return orjson.dumps(_exact_integers(value))
    except TypeError:  # nesting deeper than orjson writes: the standard library writes it
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _exact_integers(value: Any) -> Any:
    """A copy of the document in which the integers orjson cannot write are their digits as
    Fragments (written verbatim); iterative, for documents nested as deeply as `loads` allows."""
    root = [value]
    pending: list[tuple[Any, Any]] = [(root, 0)]
    while pending:
        container, key = pending.pop()
        item = container[key]
        if isinstance(item, int) and not isinstance(item, bool):
            if not -(2**63) <= item < 2**64:
                container[key] = orjson.Fragment(str(item).encode())
        elif isinstance(item, dict):
            copy = container[key] = dict(item)
            pending.extend((copy, name) for name in copy)
        elif isinstance(item, list | tuple):
            copy = container[key] = list(item)
            pending.extend((copy, n) for n in range(len(copy)))
    return root[0]


def dumps_text(value: Any) -> str:
    return dumps(value).decode()

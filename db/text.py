"""Text PostgreSQL cannot store: the NUL character and unpaired UTF-16 surrogates.

Both backends refuse it the same way, before anything is written, so a client sees one behaviour.
"""

from __future__ import annotations

from typing import Any

from db.errors import UnstorableText


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "the NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired UTF-16 surrogate"
    return None


def check_storable(value: Any, where: str) -> None:
    """Raise UnstorableText naming the first place in `value` (keys too) that cannot be stored."""
    if isinstance(value, str):
        problem = _problem(value)
        if problem:
            raise UnstorableText(where, problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _problem(key)
            if problem:
                raise UnstorableText(f"a key of {where}", problem)
            check_storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{where}[{index}]")

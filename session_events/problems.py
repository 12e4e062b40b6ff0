"""The problem+json document (RFC 9457) of the answers given outside Connexion: the HTTP edge's
refusals, the request body's limits, the viewer's files."""

from __future__ import annotations

import orjson

TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


def problem_json(status: int, detail: str) -> bytes:
    return orjson.dumps(
        {"type": "about:blank", "title": TITLES[status], "status": status, "detail": detail}
    )


def not_allowed(method: str, allowed: list[str]) -> str:
    """The detail of a 405, wherever it is answered."""
    return f"{method} is not allowed here; use {', '.join(allowed)}."

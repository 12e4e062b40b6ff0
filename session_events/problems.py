"""The problem+json document (RFC 9457) of the answers given outside Connexion: the HTTP edge's
refusals, the request body's limits, the viewer's files, readiness; and what every refusal,
inside Connexion or outside it, says the same way."""

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
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
# What a client is told to wait before it retries a 503.
RETRY_AFTER_SECONDS = 1
# The methods of what the contract does not describe (its document, the Swagger UI, the viewer).
READ_ONLY = ["GET", "HEAD"]


def problem_json(status: int, detail: str) -> bytes:
    return orjson.dumps(
        {"type": "about:blank", "title": TITLES[status], "status": status, "detail": detail}
    )


def not_allowed(method: str, allowed: list[str]) -> str:
    """The detail of a 405, wherever it is answered."""
    return f"{method} is not allowed here; use {', '.join(allowed)}."

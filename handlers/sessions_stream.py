"""GET /sessions/stream: the sessions as Server-Sent Events (being built for issue 24)."""

from __future__ import annotations

from connexion.exceptions import ProblemException


async def stream_sessions(**_given):
    raise ProblemException(status=503, title="Service Unavailable", detail="Not built yet.")

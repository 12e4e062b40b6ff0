"""How streams wait out a database out of reach: what they say meanwhile, and how long they
pause before they try again (the events streams' hubs, their replays, the sessions streams)."""

from __future__ import annotations

import random

import structlog

from session_events.db.errors import is_unavailable
from session_events.handlers.sse import sse_comment

log = structlog.get_logger("session_events")

OUTAGE_RETRY_SECONDS = 1.0  # the first pause before the database is tried again; doubled to
OUTAGE_RETRY_MAX = 5.0  # at most this
WAITING_TEXT = "the database is out of reach; the stream goes on when it is back"
WAITING = sse_comment(WAITING_TEXT)


def outage_pause(error: Exception, said: bool) -> float:
    """A stream's read the database could not answer: the pause before it tries again, spread
    over a second either side so that streams do not all try at once. Logged at the first
    failure of an outage (`said`: already logged); an error that is not an outage is raised."""
    if not is_unavailable(error):
        raise error
    if not said:
        log.warning("stream_waiting_for_database", error=type(error).__name__)
    return OUTAGE_RETRY_SECONDS * (0.5 + random.random())

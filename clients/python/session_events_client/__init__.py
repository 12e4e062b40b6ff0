"""Python client of session-events: every operation of its contract, appends stored exactly once,
listings walked page by page, and a CI gate that waits for a session to end.

    from session_events_client import Client

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        session = client.create_session("build", tokens=["append"])
        client.append_events(session.id, [{"event_type": "build_started"}])
        for event in client.iter_events(session.id, order="asc"):
            print(event.seq, event.event_type)

    with Client("http://127.0.0.1:8000", token=session.tokens[0].token) as job:
        job.append_events(session.id, [{"event_type": "log"}])  # this session only
"""

from session_events_client.client import AsyncClient, Client
from session_events_client.errors import AuthExpired, Invalid, Refused
from session_events_client.models import (
    CreatedSession,
    Event,
    EventPage,
    Session,
    SessionPage,
    SessionStatus,
    Token,
    TokenScope,
)
from session_events_client.steps import Retry
from session_events_client.watching import Change, Created, Deleted, Snapshot, Updated

__all__ = [
    "AsyncClient",
    "AuthExpired",
    "Change",
    "Client",
    "Created",
    "CreatedSession",
    "Deleted",
    "Event",
    "EventPage",
    "Invalid",
    "Refused",
    "Retry",
    "Session",
    "SessionPage",
    "SessionStatus",
    "Snapshot",
    "Token",
    "TokenScope",
    "Updated",
]

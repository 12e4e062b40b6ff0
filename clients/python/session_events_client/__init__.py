"""Python client of session-events: every operation of its contract, appends stored exactly once,
listings walked page by page, and a CI gate that waits for a session to end.

    from session_events_client import Client

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        session = client.create_session("build")
        client.append_events(session.id, [{"event_type": "build_started"}])
        for event in client.iter_events(session.id, order="asc"):
            print(event.seq, event.event_type)
"""

from session_events_client.client import AsyncClient, Client
from session_events_client.errors import Invalid, Refused
from session_events_client.models import Event, EventPage, Session, SessionPage, SessionStatus
from session_events_client.steps import Retry
from session_events_client.watching import Change, Created, Deleted, Snapshot, Updated

__all__ = [
    "AsyncClient",
    "Change",
    "Client",
    "Created",
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
    "Updated",
]

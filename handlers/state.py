"""What a request of the running app can reach: the app's state and the request itself.

The lifespan builds one AppState and hands it to the server as its state; one middleware, the
outermost, makes each request current (session_events/request_context.py), whichever way the
request is then dispatched. Handlers and the app's own checks read both through `current()`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from session_events.db.engine import Database
from session_events.db.notify import Notifier

if TYPE_CHECKING:  # security.py reads the current request from here
    from session_events.security import KeyRing

# The key of the AppState in the state the lifespan yields (and the server copies per request).
STATE_KEY = "session_events"


@dataclass(frozen=True, slots=True)
class AppState:
    database: Database
    # Wakes the requests waiting on a session (long-polls, streams) when it gets events.
    notifier: Notifier
    events_appended: Counter
    stream_heartbeat_seconds: float
    # Its `access`: an X-API-Key value -> "read", "write" or None; `unknown_key`: the 401's detail.
    keyring: KeyRing


@dataclass(frozen=True, slots=True)
class Current:
    """The request being answered: its ASGI scope and receive channel, and the app's state."""

    scope: dict[str, Any]
    receive: Callable
    state: AppState


_current: ContextVar[Current] = ContextVar("session_events_request")


def current() -> Current:
    return _current.get()


def enter(scope: dict[str, Any], receive: Callable) -> object:
    """Make this request current (returns the token `leave` takes)."""
    return _current.set(Current(scope, receive, scope["state"][STATE_KEY]))


def leave(token) -> None:
    _current.reset(token)

"""What a request of the running app can reach: the app's state and the request itself.

The lifespan (session_events/app.py) builds one AppState and hands it to the server as its state;
one middleware, the outermost, makes each request current (session_events/request_context.py),
whichever way the request is then dispatched. Handlers, the security checks and the operator
endpoints read both through `current()` and the accessors below it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from session_events.db.engine import Database
from session_events.db.notify import Notifier
from session_events.hubs import Hubs

if TYPE_CHECKING:  # security.py reads the current request from here
    from session_events.handlers.sessions_hub import SessionsHub
    from session_events.revocations import Revocations
    from session_events.security import KeyRing
    from session_events.tokens import TokenSigner

# The key of the AppState in the state the lifespan yields (and the server copies per request).
STATE_KEY = "session_events"


@dataclass(frozen=True, slots=True)
class AppState:
    database: Database
    # Wakes the requests waiting on a session (long-polls, streams) when it gets events.
    notifier: Notifier
    # The hub of each session watched in this process (streams and long-polls wait on them).
    hubs: Hubs
    events_appended: Counter
    stream_heartbeat_seconds: float
    # The sessions streams of this process, fed by one reader of what changed.
    sessions_hub: SessionsHub
    session_tombstone_seconds: float
    # Its `access`: an X-API-Key value -> "read", "write" or None; `unknown_key`: the 401's
    # detail for a key that is none of its keys.
    keyring: KeyRing
    # Session tokens: signed and checked by the signer; whether one was revoked, and the
    # streams to end when it is, by the revocations; a token's lifetime when none is asked.
    token_signer: TokenSigner
    revocations: Revocations
    token_ttl_seconds: int


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


def state() -> AppState:
    """The running app's state (database, notifier, counters, settings handlers read)."""
    return current().state


def database() -> Database:
    """The database the lifespan opened for this app."""
    return current().state.database


def notifier() -> Notifier:
    """Wakes the requests waiting on a session (long-polls, streams) when it gets events."""
    return current().state.notifier


def hubs() -> Hubs:
    """The hubs of the sessions watched in this process."""
    return current().state.hubs


def request_header(name: bytes) -> str | None:
    """A header of the current request (name in lower case)."""
    for key, value in current().scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def base_path() -> str:
    """The API's base path as routed (/api/v2), for Location headers and links."""
    return current().scope["extensions"]["connexion_routing"]["api_base_path"]

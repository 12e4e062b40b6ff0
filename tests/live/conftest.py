"""What the live tests of one server share: the server, a session on it, and the API calls their
checks make (through httpx, whatever the test itself sent)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import READ, WRITE

SESSIONS = "/api/v2/sessions"


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def session_id(server) -> str:
    return new_session(server)


def new_session(server, session_id: str | None = None) -> str:
    body = {"session_type": "build", **({"id": session_id} if session_id else {})}
    response = httpx.post(f"{server.base_url}{SESSIONS}", json=body, headers=WRITE)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def get(server, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}{path}", headers={**READ, **headers})


def event_count(server, session_id: str) -> int:
    return get(server, f"{SESSIONS}/{session_id}").json()["event_count"]


def no_traceback(server) -> None:
    output = server.output()
    for sign in ("Traceback", '"status":500', "never awaited", "Task was destroyed"):
        assert sign not in output, output[-3000:]

"""What the live tests of one server share: the server, a session on it, and the API calls their
checks make (through httpx, whatever the test itself sent)."""

from __future__ import annotations

import httpx
import pytest

from session_events.db.positions import parse
from tests.conftest import READ, WRITE, on_topology

SESSIONS = "/api/v2/sessions"
POSITION = "Events-Position"


@pytest.fixture(autouse=True)
def read_your_writes(request, monkeypatch):
    """On the topology, the test's HTTP calls act as one client that sends back the highest
    Events-Position it was answered, as the contract tells clients to: without it a read right
    after a write may be served, correctly, by the lagging replica that has not replayed it.

    httpx's send is wrapped for the test (monkeypatch): the suites' own clients, unchanged.
    A header the test sets itself is left as it is.
    """
    if not on_topology(request):
        return
    highest: list[str] = []

    def before(http_request: httpx.Request) -> None:
        if highest and POSITION not in http_request.headers:
            http_request.headers[POSITION] = highest[-1]

    def after(response: httpx.Response) -> None:
        position = response.headers.get(POSITION)
        if position and (not highest or parse(position) > parse(highest[-1])):
            highest.append(position)

    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    # httpx passes `request` by keyword.
    def send(client, request, **options):
        before(request)
        response = sync_send(client, request, **options)
        after(response)
        return response

    async def send_async(client, request, **options):
        before(request)
        response = await async_send(client, request, **options)
        after(response)
        return response

    monkeypatch.setattr(httpx.Client, "send", send)
    monkeypatch.setattr(httpx.AsyncClient, "send", send_async)


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

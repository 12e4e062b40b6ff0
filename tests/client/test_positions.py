"""Read your writes across replicas, on the client's side, over a real socket: the highest
`Events-Position` a client's writes answered (compared as numbers, whatever order they finished
in) is sent on every read it makes (a session, the listings, a long-poll, a walk of pages, an
export, a stream and its reconnect); nothing before any write, nothing from another client, and
a malformed position is ignored. The answers come from a scripted server (scripted_api.py), as
the live server answers no position until it has replicas."""

from __future__ import annotations

import asyncio
import threading

import httpx
from session_events_client import AsyncClient, Client
from session_events_client.watching import Snapshot

from tests.client.scripted_api import ScriptedApi

SESSION_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"  # the contract's example session
HIGH, LOW = "10/0", "9/FFFFFFFF"  # LOW is the higher as text: compared as numbers, HIGH wins


def write(position: str, after: str | None = None) -> list[dict]:
    """A batch whose append the scripted server answers with `position`, once a read came
    after the append answered `after`."""
    return [{"event_type": "log", "message": position, "event_data": {"after": after}}]


def sent(server: ScriptedApi, path: str = "") -> list[str | None]:
    """The position each read (of `path`) sent, in order."""
    return [headers.get("events-position") for _path, headers in server.reads(path)]


def read_everything(client: Client, server: ScriptedApi) -> list[Snapshot]:
    """Every kind of read the client makes, each stream read across one reconnect."""
    client.get_session(SESSION_ID)
    client.list_sessions(status=["in_progress"])
    client.list_events(SESSION_ID, after_seq=0, wait=1)  # a long-poll
    list(client.iter_events(SESSION_ID))  # two pages, the second by its Link
    list(client.export(SESSION_ID))
    server.statuses = ["in_progress", "completed"]
    client.wait_until_finished(SESSION_ID, timeout=30)  # a session read, a long-poll, again
    server.statuses = ["in_progress", "completed"]
    list(client.follow(SESSION_ID))  # the stream, ended while in progress: opened again
    snapshots = []
    for change in client.follow_sessions():
        if isinstance(change, Snapshot):
            snapshots.append(change)
        if len(snapshots) == 2:  # the second from the reconnect after the first stream ended
            break
    return snapshots


async def aread_everything(client: AsyncClient, server: ScriptedApi) -> list[Snapshot]:
    await client.get_session(SESSION_ID)
    await client.list_sessions(status=["in_progress"])
    await client.list_events(SESSION_ID, after_seq=0, wait=1)
    [event async for event in client.iter_events(SESSION_ID)]
    [event async for event in client.export(SESSION_ID)]
    server.statuses = ["in_progress", "completed"]
    await client.wait_until_finished(SESSION_ID, timeout=30)
    server.statuses = ["in_progress", "completed"]
    [event async for event in client.follow(SESSION_ID)]
    snapshots = []
    async for change in client.follow_sessions():
        if isinstance(change, Snapshot):
            snapshots.append(change)
        if len(snapshots) == 2:
            break
    return snapshots


def assert_every_read_kind_was_made(server: ScriptedApi) -> None:
    paths = [path for path, _headers in server.reads()]
    streams = server.reads(f"/api/v2/sessions/{SESSION_ID}/events/stream")
    assert [headers.get("last-event-id") for _path, headers in streams] == [None, "2"]
    assert len(server.reads("/api/v2/sessions/stream")) == 2
    assert any("wait=" in path for path in paths)
    assert any("page=2" in path for path in paths)
    assert any("ndjson" in headers.get("accept", "") for _path, headers in server.reads())
    assert any(path.startswith("/api/v2/sessions?") for path in paths)


def test_every_read_sends_the_highest_position_the_clients_writes_answered():
    with ScriptedApi() as server, Client(server.base_url, api_key="k") as client:
        server.position = "9/0"
        client.create_session("build")
        client.append_events(SESSION_ID, write(HIGH))
        client.append_events(SESSION_ID, write(LOW))  # later, and lower
        server.position = "F/FFFFFFFF"
        client.update_session(SESSION_ID, status="in_progress")
        client.create_token(SESSION_ID)
        read_everything(client, server)
    assert client.position == HIGH
    assert_every_read_kind_was_made(server)
    assert set(sent(server)) == {HIGH}
    writes = [headers for method, _path, headers in server.requests if method != "GET"]
    assert not any("events-position" in headers for headers in writes)


def test_a_client_that_wrote_nothing_sends_no_position():
    with ScriptedApi() as server, Client(server.base_url, api_key="k") as client:
        read_everything(client, server)
    assert client.position is None
    assert_every_read_kind_was_made(server)
    assert set(sent(server)) == {None}


def test_a_read_after_each_write_sends_that_writes_position_once_it_is_the_highest():
    with ScriptedApi() as server, Client(server.base_url, api_key="k") as client:
        for position in ["1/0", "0/FFFFFFFF", "1/A", "1/9", "2/0"]:
            client.append_events(SESSION_ID, write(position))
            client.get_session(SESSION_ID)
    assert sent(server) == ["1/0", "1/0", "1/A", "1/A", "2/0"]


def test_writes_that_finish_out_of_order_leave_the_highest():
    with ScriptedApi() as server, Client(server.base_url, api_key="k") as client:
        lower = threading.Thread(
            target=client.append_events, args=(SESSION_ID, write(LOW, after=HIGH))
        )
        lower.start()  # answered only after the higher one and a read with it
        client.append_events(SESSION_ID, write(HIGH))
        client.get_session(SESSION_ID)
        lower.join()
        client.get_session(SESSION_ID)
    assert server.order == [HIGH, LOW]
    assert sent(server) == [HIGH, HIGH]


def test_positions_never_cross_between_two_clients_even_on_one_http_client():
    with ScriptedApi() as server, httpx.Client(base_url=server.base_url) as shared:
        writer, reader = Client(http=shared), Client(http=shared)
        writer.append_events(SESSION_ID, write("5/0"))
        reader.get_session(SESSION_ID)
        reader.append_events(SESSION_ID, write("1/0"))
        reader.get_session(SESSION_ID)
        writer.get_session(SESSION_ID)
    assert sent(server) == [None, "1/0", "5/0"]


def test_a_malformed_position_is_ignored_and_breaks_nothing():
    malformed = ["zz/1", "1/2/3", "123456789/0", "1/", "/1", "-1/0", "1:0", "0x1/0", "1/0/"]
    with ScriptedApi() as server, Client(server.base_url, api_key="k") as client:
        for position in malformed:
            (event,) = client.append_events(SESSION_ID, write(position))[:1]
        client.get_session(SESSION_ID)
        client.append_events(SESSION_ID, write("2/0"))
        for position in malformed:
            client.append_events(SESSION_ID, write(position))
        client.get_session(SESSION_ID)
    assert event.seq >= 1  # the append's answer was read as ever
    assert sent(server) == [None, "2/0"]


async def test_the_async_client_keeps_and_sends_positions_the_same_way():
    with ScriptedApi() as server:
        async with AsyncClient(server.base_url, api_key="k") as client:
            await client.get_session(SESSION_ID)

            async def higher_then_read():
                await client.append_events(SESSION_ID, write(HIGH))
                await client.get_session(SESSION_ID)

            await asyncio.gather(  # the higher answered first, the lower after a read
                client.append_events(SESSION_ID, write(LOW, after=HIGH)), higher_then_read()
            )
            await client.append_events(SESSION_ID, write("zz/1"))
            await aread_everything(client, server)
        async with AsyncClient(server.base_url, api_key="k") as other:
            await other.get_session(SESSION_ID)
    assert server.order[:2] == [HIGH, LOW]
    assert client.position == HIGH
    assert_every_read_kind_was_made(server)
    assert sent(server)[0] is None and sent(server)[-1] is None  # before any write; the other
    assert set(sent(server)[1:-1]) == {HIGH}

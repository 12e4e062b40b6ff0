"""Client.export, AsyncClient.export and `session-events-client export` against a live server
on both databases: every matching event, oldest first, as Event models; one snapshot; resumed
after the server cut it short; refusals raised."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading

import httpx
import pytest
from session_events_client import AsyncClient, Client, Event, Refused
from session_events_client.exporting import alines_in, lines_in

from support.live_server import WRITE_KEY
from tests.client.test_cli import COMMAND

STEP = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"


def fill(client: Client, count: int, payload: int = 0) -> str:
    session = client.create_session("build")
    for start in range(0, count, 1000):
        client.append_events(
            session.id,
            [
                {
                    "event_type": "abc"[n % 3],
                    "step_id": STEP if n % 10 == 0 else None,
                    "message": f"Compile TIMEOUT {n}" if n % 100 == 0 else f"event {n}",
                    "event_data": {
                        "n": n,
                        "big": 10**30,
                        **({"x": "x" * payload} if payload else {}),
                    },
                }
                for n in range(start, min(start + 1000, count))
            ],
        )
    return str(session.id)


def test_export_yields_every_event_as_a_model_oldest_first(client):
    session_id = fill(client, 2500)
    exported = list(client.export(session_id))
    assert all(isinstance(event, Event) for event in exported)
    assert [event.seq for event in exported] == list(range(1, 2501))
    assert exported == list(client.iter_events(session_id, order="asc", per_page=100))
    assert exported[7].event_data == {"n": 7, "big": 10**30}


@pytest.mark.parametrize(
    ("filters", "seqs"),
    [
        ({"step_id": STEP}, list(range(1, 2501, 10))),
        ({"q": "timeout"}, list(range(1, 2501, 100))),
        ({"event_type": ["b"], "q": "TIMEOUT"}, [n + 1 for n in range(0, 2500, 100) if n % 3 == 1]),
        ({"after_seq": 2490, "until_seq": 2495}, [2491, 2492, 2493, 2494, 2495]),
    ],
)
def test_export_applies_the_filters(client, filters, seqs):
    session_id = fill(client, 2500)
    assert [event.seq for event in client.export(session_id, **filters)] == seqs


def test_export_is_the_snapshot_of_when_it_began(client):
    session_id = fill(client, 1500)
    exported = client.export(session_id)
    first = next(exported)  # the snapshot is pinned: later appends are not in it
    client.append_events(session_id, [{"event_type": "late"}])
    assert [first.seq, *(event.seq for event in exported)] == list(range(1, 1501))


def test_an_export_cut_short_is_resumed_after_its_last_event(client, server):
    """The server dies mid-export and starts again: the export goes on after the last event it
    yielded, up to where it began, each event once."""
    session_id = fill(client, 20_000, payload=1000)  # about 20 MB: more than sockets buffer
    asked = []
    http = httpx.Client(
        base_url=server.base_url,
        headers={"X-API-Key": WRITE_KEY},
        event_hooks={"request": [lambda request: asked.append(request.url.params)]},
    )
    with Client(http=http) as exporting:
        exported = exporting.export(session_id)
        got = [next(exported)]
        server.process.kill()
        server.process.wait()
        restarted = threading.Timer(1.0, server.start)
        restarted.start()
        got += list(exported)
        restarted.join()
    http.close()
    assert [event.seq for event in got] == list(range(1, 20_001))
    resumed_from = [int(params["after_seq"]) for params in asked if "after_seq" in params]
    assert resumed_from[0] == 0 and 0 < resumed_from[-1] < 20_000
    assert {params["until_seq"] for params in asked if "until_seq" in params} == {"20000"}


def test_a_refused_export_raises(client):
    session_id = fill(client, 10)
    with pytest.raises(Refused) as refused:
        list(client.export(session_id, step_id="nope"))
    assert refused.value.status == 400 and "step_id" in refused.value.detail
    with pytest.raises(Refused) as missing:
        list(client.export("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"))
    assert missing.value.status == 404


def test_the_async_client_exports_alike(server, client):
    session_id = fill(client, 1200)

    async def exported() -> list[Event]:
        async with AsyncClient(server.base_url, api_key=WRITE_KEY) as http:
            return [event async for event in http.export(session_id, q="timeout")]

    assert [event.seq for event in asyncio.run(exported())] == list(range(1, 1201, 100))


def test_the_command_writes_ndjson_to_stdout(server, client):
    session_id = fill(client, 1200)
    env = {**os.environ, "EVENTS_URL": server.base_url, "EVENTS_API_KEY": WRITE_KEY}
    result = subprocess.run(
        [COMMAND, "export", session_id, "--event-type", "a", "--event-type", "b", "--q", "TIME"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["seq"] for d in documents] == [n + 1 for n in range(0, 1200, 100) if n % 3 != 2]
    assert documents[0]["event_data"] == {"n": 0, "big": 10**30}
    step = subprocess.run(
        [COMMAND, "export", session_id, "--step-id", STEP, "--q", "event 1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    want = [n + 1 for n in range(0, 1200, 10) if n % 100 and "event 1" in f"event {n}"]
    assert [json.loads(line)["seq"] for line in step.stdout.splitlines()] == want


def test_lines_are_split_on_newlines_only_whatever_the_chunks():
    chunks = [b'{"a": "x\xe2\x80\xa8y"}\n{"b"', b": 1}\n", b"", b'{"c": 2}']
    assert list(lines_in(iter(chunks))) == [b'{"a": "x\xe2\x80\xa8y"}', b'{"b": 1}', b'{"c": 2}']

    async def chunked():
        for chunk in chunks:
            yield chunk

    async def collected():
        return [line async for line in alines_in(chunked())]

    assert asyncio.run(collected()) == list(lines_in(iter(chunks)))

"""PostgreSQL stopped for ten seconds under 200 open streams on a few sessions, through a real
server process (issue 24): no stream ends or fails while the database is away (comments may
say so), every event appended once it is back reaches every stream, and the server log holds
no traceback.
"""

from __future__ import annotations

import asyncio

import httpx

from support.live_server import LiveServer
from tests.live.conftest import no_traceback
from tests.live.fanout import (
    TIMEOUT,
    Producer,
    RawStream,
    all_started,
    check_events,
    event_types,
    new_session,
    stream_request,
    until,
)
from tests.live.test_outage import TIMEOUTS, ready_again

SESSIONS, STREAMS_PER_SESSION = 4, 50
OUTAGE_SECONDS = 10


async def test_streams_outlive_a_ten_second_database_outage_and_get_what_follows(
    own_postgres, tmp_path
):
    url = own_postgres.create_database("stream_outage")
    server = LiveServer(
        url, tmp_path / "server.log", EVENTS_STREAM_HEARTBEAT_SECONDS="1", **TIMEOUTS
    ).start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
            producers = [Producer(http, await new_session(http)) for _ in range(SESSIONS)]
            for producer in producers:
                await producer.append("before", "before", "before")
            streams: list[tuple[Producer, int, RawStream]] = []
            for number in range(STREAMS_PER_SESSION * SESSIONS):
                producer, cursor = producers[number % SESSIONS], number % 4  # 0..3: some replay
                request = stream_request(producer.session_id, f"after_seq={cursor}")
                streams.append((producer, cursor, await RawStream.open(server.port, request)))
            following = [asyncio.create_task(stream.follow()) for _, _, stream in streams]
            await all_started([stream for _, _, stream in streams], following)
            await until(lambda: all(s.body.last_id == 3 for _, c, s in streams if c < 3), following)

            await asyncio.to_thread(own_postgres.stop_server, "fast")
            await asyncio.sleep(OUTAGE_SECONDS)
            assert (await http.get("/readyz")).status_code == 503  # the database is away indeed
            assert not [task for task in following if task.done()], "a stream ended in the outage"
            await asyncio.to_thread(own_postgres.start_server)
            await ready_again(http)

            for producer in producers:
                await producer.append("after", "after")
                await producer.append("after")
                await producer.finish()
            bodies = await asyncio.wait_for(asyncio.gather(*following), TIMEOUT)
            types = {p.session_id: await event_types(http, p.session_id) for p in producers}
            for (producer, cursor, _), body in zip(streams, bodies, strict=True):
                expected = list(range(cursor + 1, producer.last_seq + 1))
                check_events(body, expected, types[producer.session_id])
    finally:
        server.stop()
    no_traceback(server)
    assert "response already started" not in server.output()

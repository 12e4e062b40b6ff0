"""A client of GET /sessions/stream for the live tests: it reads the stream in the background,
checks every message against the contract (the message schema and its event's `x-data-schemas`),
and keeps the sessions a dashboard would show, applying events as the contract says (upserts)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import httpx
from connexion.json_schema import resolve_refs

from session_events.contract import load_contract
from session_events.contract_checks import first_error
from tests.conftest import READ, WRITE
from tests.live.sse import sse_messages

TIMEOUT = 30  # only ever waited in full when the behaviour is broken
SCHEMAS = resolve_refs(load_contract())["components"]["schemas"]
MESSAGE = SCHEMAS["SessionStreamMessage"]


def check_message(message: dict) -> None:
    """The message's fields against SessionStreamMessage, its data against its event's schema."""
    fields = {name: message[name] for name in ("id", "event") if name in message}
    assert first_error(MESSAGE, fields) is None, message
    schema = SCHEMAS[MESSAGE["x-data-schemas"][message["event"]].rsplit("/", 1)[1]]
    assert first_error(schema, message["data"]) is None, message


class Dashboard:
    """The stream's messages as they arrive (each with its arrival time), and the sessions."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        query: str = "",
        last_event_id: str | None = None,
        holding: dict[str, dict] | None = None,
    ):
        """`holding`: the sessions it shows already (a dashboard that resumes)."""
        self.http = http
        self.url = f"/api/v2/sessions/stream?{query}"
        self.headers = {**READ, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        self.messages: list[dict] = []
        self.sessions: dict[str, dict] = dict(holding or {})
        self.last_id: str | None = None
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.status_code: int | None = None

    async def __aenter__(self) -> Dashboard:
        opened = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(opened))
        await asyncio.wait_for(opened, TIMEOUT)
        return self

    async def __aexit__(self, *_exc) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task

    async def _read(self, opened: asyncio.Future) -> None:
        async with self.http.stream("GET", self.url, headers=self.headers) as response:
            self.status_code = response.status_code
            opened.set_result(None)
            async for message in sse_messages(response):
                message["at"] = time.monotonic()
                if "event" in message:
                    check_message(message)
                    self._apply(message)
                self.messages.append(message)
                self._arrived.set()

    def _apply(self, message: dict) -> None:
        self.last_id = message["id"]
        data = message["data"]
        if message["event"] == "snapshot":
            self.sessions = {item["id"]: item for item in data["items"]}
        elif message["event"] == "session_deleted":
            self.sessions.pop(data["id"], None)
        else:
            self.sessions[data["id"]] = data

    def events(self, name: str | None = None, session_id: str | None = None) -> list[dict]:
        return [
            m
            for m in self.messages
            if "event" in m
            and (name is None or m["event"] == name)
            and (session_id is None or m["data"].get("id") == session_id)
        ]

    async def wait_for(self, wanted: Callable[[dict], bool], timeout: float = TIMEOUT) -> dict:
        """The first message (from the start) for which `wanted` holds, once it has arrived."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages:
                if wanted(message):
                    return message
            if self._task.done():
                self._task.result()
                raise AssertionError(f"the stream ended first: {self.messages}")
            self._arrived.clear()
            left = deadline - time.monotonic()
            assert left > 0, f"not received in {timeout} s: {self.messages}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def wait_event(self, name: str, session_id: str | None = None, **fields) -> dict:
        def wanted(m: dict) -> bool:
            if m.get("event") != name:
                return False
            data = m["data"]
            if session_id is not None and data.get("id") != session_id:
                return False
            return all(data.get(key) == value for key, value in fields.items())

        return await self.wait_for(wanted)


async def create(http: httpx.AsyncClient, session_type: str = "build") -> dict:
    response = await http.post(
        "/api/v2/sessions", json={"session_type": session_type}, headers=WRITE
    )
    assert response.status_code == 201, response.text
    return response.json()


async def set_status(http: httpx.AsyncClient, session_id: str, status: str) -> None:
    response = await http.patch(
        f"/api/v2/sessions/{session_id}", json={"status": status}, headers=WRITE
    )
    assert response.status_code == 200, response.text


async def append(http: httpx.AsyncClient, session_id: str, count: int = 1) -> None:
    events = [{"event_type": "tick"}] * count
    response = await http.post(
        f"/api/v2/sessions/{session_id}/events", json={"events": events}, headers=WRITE
    )
    assert response.status_code == 201, response.text


async def delete(http: httpx.AsyncClient, session_id: str) -> None:
    response = await http.delete(f"/api/v2/sessions/{session_id}", headers=WRITE)
    assert response.status_code == 204, response.text


async def all_sessions(http: httpx.AsyncClient) -> dict[str, dict]:
    response = await http.get("/api/v2/sessions?per_page=100", headers=READ)
    return {item["id"]: item for item in response.json()["items"]}

"""Producers: `emit()` buffers events; a background worker appends them in batches, by count, by
age and at exit, one batch at a time so the session keeps their order.

Every event gets its id when it is emitted, so a batch retried after a failure (the client's
retry rule) is stored once. A batch that fails for good stops the producer: the next `emit()`
and the exit raise its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from typing import Any

from pydantic import ValidationError

from session_events_client.errors import invalid
from session_events_client.models import EventCreate
from session_events_client.operations import with_id

BATCH = 100  # events a batch holds at most
AGE = 0.2  # seconds an event may wait for its batch


class Buffer:
    """The batching rule, shared by both producers: what to send, and when."""

    def __init__(self, batch_size: int, max_delay: float):
        self.batch_size, self.max_delay = batch_size, max_delay
        self.events: list[dict[str, Any]] = []
        self.oldest = 0.0  # when the oldest waiting event was emitted
        self.started = self.closed = False
        self.error: BaseException | None = None
        self.stored = 0

    def add(self, event: dict[str, Any]) -> None:
        """Checked against the contract and copied here, so a bad event fails its emit() (with
        Invalid) and a change to it afterwards changes nothing."""
        if self.error is not None:
            raise self.error
        if not self.started or self.closed:
            raise RuntimeError("emit within the producer's with-block")
        given = {name: value for name, value in event.items() if value is not None}
        try:
            model = EventCreate.model_validate(given)
        except ValidationError as error:
            raise invalid(error) from error
        checked = model.model_dump(mode="json", exclude_none=True)
        if not self.events:
            self.oldest = time.monotonic()
        self.events.append(with_id(checked))

    def due_in(self) -> float | None:
        """Seconds until a batch is due: 0 now, None while there is nothing to send."""
        if not self.events:
            return None
        if self.closed or len(self.events) >= self.batch_size:
            return 0.0
        return max(0.0, self.oldest + self.max_delay - time.monotonic())

    def take(self) -> list[dict[str, Any]]:
        batch, self.events = self.events[: self.batch_size], self.events[self.batch_size :]
        self.oldest = time.monotonic()
        return batch


def event(
    event_type: str,
    message: str | None = None,
    event_data: dict[str, Any] | None = None,
    step_id: uuid.UUID | str | None = None,
    id: uuid.UUID | str | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "event_type": event_type,
        "message": message,
        "event_data": event_data,
        "step_id": step_id,
    }


class Producer:
    """`with client.producer(session_id) as producer: producer.emit(...)`; thread-safe."""

    def __init__(self, client, session_id, batch_size: int = BATCH, max_delay: float = AGE):
        self.client, self.session_id = client, session_id
        self.buffer = Buffer(batch_size, max_delay)
        self.changed = threading.Condition()
        self.worker = threading.Thread(target=self._work, name="session-events-producer")

    def __enter__(self) -> Producer:
        self.buffer.started = True
        self.worker.start()
        return self

    def emit(self, event_type: str, message=None, event_data=None, step_id=None, id=None) -> None:
        with self.changed:
            self.buffer.add(event(event_type, message, event_data, step_id, id))
            self.changed.notify()

    @property
    def stored(self) -> int:
        """How many events the server has acknowledged."""
        return self.buffer.stored

    def __exit__(self, *exc) -> None:
        with self.changed:
            self.buffer.closed = True
            self.changed.notify()
        self.worker.join()
        if self.buffer.error is not None and exc[0] is None:
            raise self.buffer.error

    def _work(self) -> None:
        while True:
            with self.changed:
                while (due := self.buffer.due_in()) != 0.0:
                    if due is None and self.buffer.closed:
                        return
                    self.changed.wait(due)
                batch = self.buffer.take()
            try:
                self.client.append_events(self.session_id, batch)
            except Exception as error:  # handed to the next emit and the exit
                with self.changed:
                    self.buffer.error, self.buffer.events = error, []
                return
            self.buffer.stored += len(batch)


class AsyncProducer:
    """`async with client.producer(session_id) as producer: producer.emit(...)`; the batches
    are sent by a task of the running loop."""

    def __init__(self, client, session_id, batch_size: int = BATCH, max_delay: float = AGE):
        self.client, self.session_id = client, session_id
        self.buffer = Buffer(batch_size, max_delay)
        self.changed = asyncio.Event()
        self.worker: asyncio.Task | None = None

    async def __aenter__(self) -> AsyncProducer:
        self.buffer.started = True
        self.worker = asyncio.create_task(self._work())
        return self

    def emit(self, event_type: str, message=None, event_data=None, step_id=None, id=None) -> None:
        self.buffer.add(event(event_type, message, event_data, step_id, id))
        self.changed.set()

    @property
    def stored(self) -> int:
        return self.buffer.stored

    async def __aexit__(self, *exc) -> None:
        self.buffer.closed = True
        self.changed.set()
        await asyncio.shield(self.worker)  # a cancelled exit still sends what was emitted
        if self.buffer.error is not None and exc[0] is None:
            raise self.buffer.error

    async def _work(self) -> None:
        while True:
            while (due := self.buffer.due_in()) != 0.0:
                if due is None and self.buffer.closed:
                    return
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), due)
            batch = self.buffer.take()
            try:
                await self.client.append_events(self.session_id, batch)
            except Exception as error:  # handed to the next emit and the exit
                self.buffer.error, self.buffer.events = error, []
                return
            self.buffer.stored += len(batch)

"""`Client` and `AsyncClient`: the same operations, run with httpx's blocking or async API.

The operations are declared once, in `Operations`; each returns what its driver's `_run` makes
of the operation's steps: the value itself (`Client`) or a coroutine giving it (`AsyncClient`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from httpx_sse import EventSource

from session_events_client import (
    credentials,
    exporting,
    following,
    operations,
    positions,
    producer,
    steps,
    watching,
)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 10.0


class Operations:
    """Every operation of the contract, and the loops a client needs (see operations.py).

    `base_url` is the server's root (http://127.0.0.1:8000); the API's own root, which the
    server's pages show (http://127.0.0.1:8000/api/v2), is taken as the same. The credential is
    `api_key` (sent as X-API-Key) or `token`, a session token (sent as `Authorization: Bearer`),
    never both (ValueError: pick one). Reads and appends
    are retried as `retry` says (None: never); a failure that outlasts it is raised as httpx
    raised it (httpx.TransportError), a refusal as Refused. `http` is an httpx client of your own
    to use instead of a new one (its base URL and headers are then yours to set).

    Every read sends back the highest `Events-Position` a response to this client answered
    (`position`), so a server that reads from replicas shows it its own writes.
    """

    HTTP: type = httpx.Client  # the kind of httpx client a driver runs its requests on
    PRODUCER: type = producer.Producer

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: steps.Retry | None = operations.RETRY,
        http: httpx.Client | httpx.AsyncClient | None = None,
    ):
        self.timeout = timeout
        self.retry = retry
        self.http = http or self.HTTP(**configured(base_url, api_key, token, timeout))
        self._owned = http is None
        self._position = positions.Position()  # this client's own: never shared with another

    @property
    def position(self) -> str | None:
        """The `Events-Position` its reads send (`16/B374D848`); None before any was answered."""
        return self._position.text

    def create_session(self, session_type, project_path=None, config=None, *, id=None, tokens=None):
        """The new session (a CreatedSession); `tokens`, scopes such as ["append", "read"],
        mints a token of each for it, in its `tokens`."""
        return self._run(operations.create_session(session_type, project_path, config, id, tokens))

    def get_session(self, session_id):
        return self._run(operations.get_session(session_id, self.retry))

    def list_sessions(self, *, page=None, per_page=None, **filters):
        """One page of sessions, newest first, with its `status_counts`; `filters` are the
        listing's (status, session_type: a list, project_path, created_after, created_before,
        q)."""
        return self._run(operations.list_sessions(page, per_page, self.retry, **filters))

    def update_session(self, session_id, *, status):
        return self._run(operations.update_session(session_id, status))

    def delete_session(self, session_id):
        return self._run(operations.delete_session(session_id))

    def create_token(self, session_id, scope="read", ttl_seconds=None):
        """A Token limited to the session: `read` (a read key or a read token of the session may
        mint one) or `append` (a write key); `ttl_seconds` defaults to the server's hour."""
        return self._run(operations.create_token(session_id, scope, ttl_seconds))

    def revoke_token(self, session_id, token_id):
        """Refuse the token whose `id` this is from now on (a write key; idempotent)."""
        return self._run(operations.revoke_token(session_id, token_id, self.retry))

    def revoke_tokens(self, session_id):
        """Refuse every token of the session from now on (a write key; idempotent)."""
        return self._run(operations.revoke_tokens(session_id, self.retry))

    def append_events(self, session_id, events):
        return self._run(operations.append_events(session_id, events, self.retry))

    def list_events(self, session_id, **filters):
        return self._run(operations.list_events(session_id, self.retry, **filters))

    def iter_events(self, session_id, **filters):
        return self._iterate(operations.iter_events(session_id, self.retry, **filters))

    def export(self, session_id, **filters):
        """Every event the filters keep (since, event_type, step_id, q, after_seq, until_seq),
        oldest first, as the server streams them: one snapshot of the session as it was when
        the export began, resumed by itself after a broken connection."""
        return self._iterate(exporting.export(session_id, self.retry, **filters))

    def follow(self, session_id, after_seq: int = 0, event_types=None):
        return self._iterate(following.follow(session_id, after_seq, event_types, self.retry))

    def follow_sessions(
        self, status=None, session_types=(), limit: int = watching.LIMIT, cursor=None
    ):
        """A `Snapshot` of the sessions, then each change to them (`Created`, `Updated`,
        `Deleted`), resumed by itself after a broken connection, for as long as you iterate;
        `cursor`, a change's, resumes after it (in a later process, say)."""
        changes = watching.follow_sessions(status, session_types, limit, cursor, self.retry)
        return self._iterate(changes)

    def producer(
        self, session_id, batch_size: int = producer.BATCH, max_delay: float = producer.AGE
    ):
        """A context manager whose `emit()` buffers events, sent in the background in batches of
        up to `batch_size`, within `max_delay` seconds, and at its exit."""
        return self.PRODUCER(self, session_id, batch_size, max_delay)

    def wait_until_finished(self, session_id, timeout: float):
        return self._run(operations.wait_until_finished(session_id, timeout, self.retry))

    def _request(self, step: steps.Send) -> httpx.Request:
        """`step` as a request of this client: a read with the position of its writes, allowed
        the client's timeout plus the step's own (a long-poll's wait, a stream's quiet). Every
        request of both drivers is built here, and its response `noted` in the position."""
        return self.http.build_request(
            step.method,
            step.path,
            params=step.params,
            json=step.json,
            headers={**step.headers, **self._position.headers(step.method)},
            timeout=None if self.timeout is None else self.timeout + (step.timeout or 0),
        )

    def _run(self, operation):
        raise NotImplementedError

    def _iterate(self, operation):
        raise NotImplementedError


def configured(
    base_url: str, api_key: str | None, token: str | None, timeout: float
) -> dict[str, Any]:
    headers = credentials.header(api_key, token)
    return {"base_url": server_root(base_url), "headers": headers, "timeout": timeout}


def server_root(base_url: str) -> str:
    """`base_url` without a trailing slash or the API's path, to which every step's path is
    relative: http://host:8000/api/v2/ is http://host:8000."""
    return base_url.rstrip("/").removesuffix(steps.API)


class Client(Operations):
    """The blocking client (thread-safe, as httpx.Client is)."""

    HTTP = httpx.Client
    PRODUCER = producer.Producer

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _run(self, operation):
        stepper = steps.Stepper(operation)
        for _item in self._drive(stepper):
            pass
        return stepper.result

    def _iterate(self, operation):
        return self._drive(steps.Stepper(operation))

    def _drive(self, stepper: steps.Stepper):
        stream = []  # the open stream's response and its messages
        try:
            for step in stepper:
                if isinstance(step, steps.Emit):
                    yield step.item
                    continue
                with stepper.answering():
                    stepper.reply = self._perform(step, stream)
        finally:
            self._perform(steps.CloseStream(), stream)
            stepper.steps.close()

    def _perform(self, step, stream: list):
        if isinstance(step, steps.Send):
            return self._position.noted(self.http.send(self._request(step)))
        if isinstance(step, steps.Sleep):
            return time.sleep(step.seconds)
        if isinstance(step, steps.OpenStream):
            self._perform(steps.CloseStream(), stream)
            response = self._position.noted(
                self.http.send(self._request(step.request), stream=True)
            )
            if response.status_code != 200:
                response.read()  # a refusal: its problem document is wanted whole
                response.close()
                return response
            messages = (
                exporting.lines_in(response.iter_bytes())
                if step.lines
                else EventSource(response).iter_sse()
            )
            stream[:] = [response, messages]
            return response
        if isinstance(step, steps.NextMessage):
            return next(stream[1], None)
        if isinstance(step, steps.CloseStream):
            if stream:
                stream.pop(0).close()
                stream.clear()
            return None
        raise TypeError(f"unknown step {step!r}")


class AsyncClient(Operations):
    """The async client: the same operations as `Client`, each awaited (`iter_events`,
    `export`, `follow` and `follow_sessions` are async iterators)."""

    HTTP = httpx.AsyncClient
    PRODUCER = producer.AsyncProducer

    async def aclose(self) -> None:
        if self._owned:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.aclose()

    async def _run(self, operation):
        stepper = steps.Stepper(operation)
        async for _item in self._drive(stepper):
            pass
        return stepper.result

    def _iterate(self, operation):
        return self._drive(steps.Stepper(operation))

    async def _drive(self, stepper: steps.Stepper):
        stream = []  # the open stream's response and its messages
        try:
            for step in stepper:
                if isinstance(step, steps.Emit):
                    yield step.item
                    continue
                with stepper.answering():
                    stepper.reply = await self._perform(step, stream)
        finally:
            await self._perform(steps.CloseStream(), stream)
            stepper.steps.close()

    async def _perform(self, step, stream: list):
        if isinstance(step, steps.Send):
            return self._position.noted(await self.http.send(self._request(step)))
        if isinstance(step, steps.Sleep):
            return await asyncio.sleep(step.seconds)
        if isinstance(step, steps.OpenStream):
            await self._perform(steps.CloseStream(), stream)
            request = self._request(step.request)
            response = self._position.noted(await self.http.send(request, stream=True))
            if response.status_code != 200:
                await response.aread()  # a refusal: its problem document is wanted whole
                await response.aclose()
                return response
            messages = (
                exporting.alines_in(response.aiter_bytes())
                if step.lines
                else EventSource(response).aiter_sse()
            )
            stream[:] = [response, messages]
            return response
        if isinstance(step, steps.NextMessage):
            return await anext(stream[1], None)
        if isinstance(step, steps.CloseStream):
            if stream:
                await stream.pop(0).aclose()
                stream.clear()
            return None
        raise TypeError(f"unknown step {step!r}")

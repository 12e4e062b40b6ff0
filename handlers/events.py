"""GET and POST /sessions/{session_id}/events."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from connexion.exceptions import BadRequestProblem
from starlette.responses import Response

from db import events as db_events
from db import sessions as db_sessions
from db.errors import SessionNotFound
from handlers.common import (
    base_path,
    database,
    event_json,
    json_response,
    metrics,
    notifier,
    pagination,
    parse_timestamp,
    request_header,
)
from handlers.listing import etag, etag_matches, link_header
from handlers.waiting import Sleeper, Woke


def _filters(since, event_types, after_seq, order, per_page, include_total) -> dict:
    """The listing's query as links repeat it (defaults left out)."""
    filters: dict = {"per_page": per_page}
    if since is not None:
        filters["since"] = since
    if event_types:
        filters["event_type"] = list(event_types)
    if after_seq:
        filters["after_seq"] = after_seq
    if order != "desc":
        filters["order"] = order
    if not include_total:
        filters["include_total"] = "false"
    return filters


@dataclass(frozen=True)
class Answer:
    response: Response
    latest_seq: int
    nothing_new: bool  # an empty page, or a 304: what a long-poll waits past


@dataclass(frozen=True)
class Listing:
    """One GET of the events listing, read as often as a long-poll needs."""

    session_id: uuid.UUID
    since: str | None
    event_types: tuple[str, ...]
    after_seq: int
    until_seq: int | None
    order: str
    page: int
    per_page: int
    include_total: bool

    @property
    def filters(self) -> dict:
        return _filters(
            self.since,
            self.event_types,
            self.after_seq,
            self.order,
            self.per_page,
            self.include_total,
        )

    async def read(self, if_none_match: str | None, previous: Answer | None = None) -> Answer:
        """The answer as of now; `previous` is reused if the session has not changed since."""
        async with database().read() as conn:
            session = await db_sessions.read_session(conn, self.session_id)
            if session is None:
                raise SessionNotFound(self.session_id)
            latest_seq = session["last_seq"]
            if previous is not None and previous.latest_seq == latest_seq:
                return previous
            # The body is a function of the session's identity and counter and of the query.
            tag = etag(
                self.session_id,
                session["created_at"],
                latest_seq,
                self.filters,
                self.until_seq,
                self.page,
            )
            headers = {"ETag": tag, "Cache-Control": "no-cache"}
            if etag_matches(if_none_match, tag):
                return Answer(Response(status_code=304, headers=headers), latest_seq, True)
            body, upper = await self._page(conn, latest_seq)
        headers["Link"] = link_header(
            f"{base_path()}/sessions/{self.session_id}/events",
            {**self.filters, "until_seq": upper},
            page=self.page,
            has_next=body["pagination"]["has_next"],
            last_page=body["pagination"]["total_pages"],
        )
        return Answer(json_response(body, headers=headers), latest_seq, not body["items"])

    async def _page(self, conn, latest_seq: int) -> tuple[dict, int]:
        """The body, and the upper seq bound the links pin."""
        lower = self.after_seq
        if self.since is not None:
            at_since = await db_events.read_seq_at(
                conn, session_id=self.session_id, timestamp=parse_timestamp(self.since)
            )
            lower = max(lower, at_since)
        upper = latest_seq if self.until_seq is None else min(self.until_seq, latest_seq)
        seq_range = db_events.SeqRange(self.session_id, lower, upper, self.event_types)
        total = await db_events.count_events(conn, seq_range) if self.include_total else None
        rows = await db_events.list_events(
            conn,
            seq_range,
            limit=self.per_page if self.include_total else self.per_page + 1,  # +1: has_next
            offset=(self.page - 1) * self.per_page,
            ascending=self.order == "asc",
        )
        has_next = None if self.include_total else len(rows) > self.per_page
        body = {
            "items": [event_json(row) for row in rows[: self.per_page]],
            "pagination": pagination(self.page, self.per_page, total, has_next),
            "latest_seq": latest_seq,
        }
        return body, upper


async def list_events(
    session_id,
    since=None,
    event_type=None,
    after_seq=0,
    until_seq=None,
    order="desc",
    page=1,
    per_page=20,
    include_total=True,
    wait=0,
):
    if until_seq is not None and until_seq < after_seq:
        raise BadRequestProblem(
            detail=f"until_seq ({until_seq}) must not be below after_seq ({after_seq})."
        )
    listing = Listing(
        uuid.UUID(session_id),
        since,
        tuple(dict.fromkeys(event_type or ())),
        after_seq,
        until_seq,
        order,
        page,
        per_page,
        include_total,
    )
    if_none_match = request_header(b"if-none-match")
    if not wait:
        return (await listing.read(if_none_match)).response
    # Long-poll: watch before reading, so an append between the read and the sleep still wakes.
    deadline = time.monotonic() + wait
    waiters = notifier()
    with (
        waiters.watch(listing.session_id, "long_poll") as woken,
        Sleeper(woken, waiters.closing) as sleeper,
    ):
        answer = await listing.read(if_none_match)
        while answer.nothing_new:
            if await sleeper.sleep(deadline - time.monotonic()) is not Woke.WOKEN:
                break
            answer = await listing.read(if_none_match, previous=answer)
    return answer.response


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


async def append_events(session_id, body):
    new_events = [
        {
            **event,
            "id": _uuid_or_none(event.get("id")),
            "step_id": _uuid_or_none(event.get("step_id")),
        }
        for event in body["events"]
    ]
    session_id = uuid.UUID(session_id)
    async with database().write() as conn:
        appended = await db_events.append_events(conn, session_id=session_id, new_events=new_events)
    notifier().committed(session_id)
    metrics().appended.inc(appended.stored)
    return json_response({"items": [event_json(event) for event in appended.events]}, 201)

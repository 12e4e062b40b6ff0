"""GET and POST /sessions/{session_id}/events."""

from __future__ import annotations

import dataclasses
import functools
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from connexion.exceptions import BadRequestProblem
from starlette.responses import Response

from session_events.app_state import base_path, database, hubs, notifier, request_header, state
from session_events.db import appends as db_appends
from session_events.db import filters as db_filters
from session_events.db import lagging, pages_in_memory
from session_events.db import pages as db_pages
from session_events.db.errors import SessionNotFound
from session_events.db.positions import NONE, PRIMARY
from session_events.handlers import export
from session_events.handlers.listing import (
    LISTING_CACHING,
    etag,
    etag_matches,
    link_header,
    read_filters,
)
from session_events.handlers.shapes import json_response, pagination
from session_events.handlers.waiting import leaving_with_client
from session_events.hub import SessionHub
from session_events.security import grant, still_good
from session_events.watcher import Watcher


@dataclass(frozen=True)
class Answer:
    response: Response
    latest_seq: int
    nothing_new: bool  # an empty page, or a 304: what a long-poll waits past


@dataclass(frozen=True)
class Listing:
    """One GET of the events listing, read as often as a long-poll needs."""

    session_id: uuid.UUID
    filters: dict[str, Any]  # the filters given, as links repeat them (db_filters.requested)
    order: str
    page: int
    per_page: int
    include_total: bool

    @functools.cached_property
    def chosen(self) -> db_filters.Chosen:
        return read_filters(self.filters)

    @functools.cached_property
    def query(self) -> db_pages.ListingQuery:
        return db_pages.ListingQuery(
            self.session_id,
            self.chosen,
            ascending=self.order == "asc",
            offset=(self.page - 1) * self.per_page,
            limit=self.per_page,
            count_total=self.include_total,
        )

    @functools.cached_property
    def link_query(self) -> dict[str, Any]:
        """The listing's query as links repeat it, defaults left out, but for until_seq: every
        link pins it to the range's upper bound."""
        query: dict[str, Any] = {"per_page": self.per_page}
        for name, value in self.filters.items():
            if name != db_filters.UNTIL_SEQ.parameter:
                query[name] = value
        if self.order != "desc":
            query["order"] = self.order
        if not self.include_total:
            query["include_total"] = "false"
        return query

    def etag(self, version: db_pages.Version) -> str:
        """The body is a function of the session's identity and counter and of the query: every
        field of the listing with defaults applied (the parameters' order or an explicit default
        change nothing)."""
        return etag(
            version.created_at, version.latest_seq, *[getattr(self, name) for name in _FIELDS]
        )

    async def read(
        self, if_none_match: str | None, previous: Answer | None = None, after: int = NONE
    ) -> Answer:
        """The answer as of now (from a replica that has replayed `after`, if any); `previous`
        is reused if the session has not changed since.

        With a tag to compare (or a previous answer), the session row alone decides first, so an
        unchanged listing costs one primary-key read; otherwise one statement reads it all.
        """
        answer = await lagging.found(database(), self.reading(if_none_match, previous), after)
        if answer is None:
            raise SessionNotFound(self.session_id)
        return answer

    def reading(self, if_none_match: str | None, previous: Answer | None):
        """A read of the answer at a position: None if the session is not there, or is behind
        `previous` there (a replica that has not replayed it yet; on the primary that is a
        session made again under its id, and is answered)."""

        async def read(after: int) -> Answer | None:
            replica = database().replicas is not None and after < PRIMARY
            async with database().read_direct(after) as conn:
                if if_none_match or previous is not None:
                    version = await db_pages.read_version(conn, self.session_id)
                    if version is None:
                        return None
                    if replica and previous and version.latest_seq < previous.latest_seq:
                        return None
                    if previous is not None and previous.latest_seq == version.latest_seq:
                        return previous
                    tag = self.etag(version)
                    if etag_matches(if_none_match, tag):
                        return self.not_modified(version, tag)
                page = await db_pages.read_page(conn, self.query)
            return None if page is None else self.page_answer(page, if_none_match)

        return read

    def page_answer(self, page: db_pages.Page, if_none_match: str | None) -> Answer:
        tag = self.etag(page.version)
        if etag_matches(if_none_match, tag):  # appended to between the two reads, then matched
            return self.not_modified(page.version, tag)
        return self.answer(page, tag)

    def from_hub(self, hub: SessionHub, if_none_match: str | None, previous: Answer):
        """The answer from the events the session's hub holds, if they can give it and are
        no older than `previous`; None: read the database."""
        held = hub.holding()
        if held is None or held.version.latest_seq < previous.latest_seq:
            return None
        if held.version.latest_seq == previous.latest_seq:
            return previous
        page = pages_in_memory.page_in_memory(self.query, held)
        if page is None:
            return None
        tag = self.etag(page.version)
        if etag_matches(if_none_match, tag):
            return self.not_modified(page.version, tag)
        return self.answer(page, tag)

    def not_modified(self, version: db_pages.Version, tag: str) -> Answer:
        headers = {"ETag": tag, **LISTING_CACHING}
        return Answer(Response(status_code=304, headers=headers), version.latest_seq, True)

    def answer(self, page: db_pages.Page, tag: str) -> Answer:
        has_next = None if self.include_total else page.more
        paging = pagination(self.page, self.per_page, page.total, has_next)
        body = {
            "items": orjson.Fragment(page.items),  # as the database wrote them, unparsed
            "pagination": paging,
            "latest_seq": page.version.latest_seq,
        }
        headers = {
            "ETag": tag,
            **LISTING_CACHING,
            "Link": link_header(
                f"{base_path()}/sessions/{self.session_id}/events",
                {**self.link_query, db_filters.UNTIL_SEQ.parameter: page.upto_seq},
                page=self.page,
                has_next=paging["has_next"],
                last_page=paging["total_pages"],
            ),
        }
        nothing_new = page.count == 0
        return Answer(json_response(body, headers=headers), page.version.latest_seq, nothing_new)


# The listing's fields, every one a part of its ETag (a new filter cannot be left out).
_FIELDS = tuple(field.name for field in dataclasses.fields(Listing))


async def list_events(
    session_id, order="desc", page=1, per_page=20, include_total=True, wait=0, **filters
):
    """`filters`: the contract's filter parameters given, which db/filters.py declares (a new
    one needs no change here)."""
    filters = db_filters.requested(filters)
    after_seq, until_seq = filters.get("after_seq", 0), filters.get("until_seq")
    if until_seq is not None and until_seq < after_seq:
        raise BadRequestProblem(
            detail=f"until_seq ({until_seq}) must not be below after_seq ({after_seq})."
        )
    if export.wanted(request_header(b"accept")):
        return await export.export_events(uuid.UUID(session_id), filters)
    listing = Listing(uuid.UUID(session_id), filters, order, page, per_page, include_total)
    listing.chosen  # noqa: B018 -- read once here, so that a refusal is a 400
    if_none_match = request_header(b"if-none-match")
    if not wait:
        return (await listing.read(if_none_match)).response
    # Long-poll: a watcher of the session's hub before reading, so an append between the read
    # and the sleep still wakes it; woken only by events its filter keeps.
    deadline = time.monotonic() + wait
    types = filters.get(db_filters.EVENT_TYPE.parameter)
    watcher = Watcher(None if types is None else frozenset(types), 0, limit=0)
    hub = hubs().join(listing.session_id, watcher)
    try:
        with leaving_with_client(watcher):
            answer = await listing.read(if_none_match, after=news(hub, None))
            while answer.nothing_new and watcher.last is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # A hub that has read further than a lagging replica told this read will not
                # offer it those events again: read again at once instead of sleeping.
                if not hub_ahead(hub, answer):
                    await watcher.wait(remaining)
                if watcher.gone:  # the client left, or the server stops
                    break
                answer = listing.from_hub(hub, if_none_match, answer) or await listing.read(
                    if_none_match, previous=answer, after=news(hub, answer)
                )
    finally:
        hub.remove(watcher)
    await still_good(grant())  # revoked or expired while it waited: nothing more is handed over
    return answer.response


def news(hub: SessionHub, answer: Answer | None) -> int:
    """The position a long-poll's read must see: the session's latest wake-up; the primary's
    if the hub has read further than that read found (a replica can be behind what the
    primary gave the hub)."""
    return PRIMARY if answer is not None and hub_ahead(hub, answer) else hub.news()


def hub_ahead(hub: SessionHub, answer: Answer) -> bool:
    """Whether the hub has read past what the answer found (which a lagging replica gave)."""
    return hub.cursor is not None and hub.cursor > answer.latest_seq


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
    async with database().write_direct() as conn:
        appended = await db_appends.append_events(
            conn, session_id=session_id, new_events=new_events
        )
    notifier().committed(session_id)
    state().events_appended.inc(appended.stored)
    items = orjson.Fragment("[" + ",".join(appended.documents) + "]")
    return json_response({"items": items}, 201)

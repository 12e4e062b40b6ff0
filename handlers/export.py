"""GET /sessions/{session_id}/events asked for as application/x-ndjson: the export.

Every event the filters keep, oldest first, one document a line, read in keyset pages by seq
(the listing's query, db/pages.py, each page in its own short read: no database connection is
held while the client reads) up to the session's counter as it was at the start, so the export
is one snapshot however long it takes. Errors are answered before the stream starts; a failure
after it (the database out of reach, the session deleted) ends the response without its last
chunk, so the client sees a body cut short, never a wrong one.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import structlog
from connexion.exceptions import BadRequestProblem
from starlette.responses import Response

from session_events.app_state import current, database, request_header
from session_events.db import filters as db_filters
from session_events.db import lagging
from session_events.db import pages as db_pages
from session_events.db.errors import SessionNotFound, is_unavailable
from session_events.db.json_codec import dumps, loads
from session_events.handlers.chunked_body import ChunkedBody, CutShort
from session_events.handlers.listing import LISTING_CACHING, etag, etag_matches, read_filters
from session_events.handlers.sse import sse_line

log = structlog.get_logger("session_events")

MEDIA_TYPE = "application/x-ndjson"
PAGE = 1000  # events a read
# The listing's paging and waiting, which an export (all of it, at once) has no use for.
NOT_FOR_EXPORT = ("page", "per_page", "include_total", "wait")


def quality(accept: str, media_type: str) -> float:
    """The q an Accept header gives a media type: that of the most specific range matching it
    (RFC 9110 12.5.1), 0 if none does."""
    kind = media_type.split("/")[0]
    best, specificity = 0.0, -1
    for item in accept.split(","):
        media_range, *parameters = item.split(";")
        media_range = media_range.strip().lower()
        if media_range == media_type:
            matched = 2
        elif media_range == f"{kind}/*":
            matched = 1
        elif media_range == "*/*":
            matched = 0
        else:
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if matched > specificity:
            best, specificity = q, matched
    return best


def wanted(accept: str | None) -> bool:
    """Whether the client prefers the export to the JSON page: it must rank application/x-ndjson
    above application/json (`*/*`, `application/*`, ties and no Accept keep the page)."""
    return bool(accept) and quality(accept, MEDIA_TYPE) > quality(accept, "application/json")


def _refuse_paging() -> None:
    """The parameters the request gave (not their defaults) that an export does not take."""
    query = current().scope["query_string"].decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in NOT_FOR_EXPORT or (name == "order" and value == "desc"):
            given = f"{name}={value}" if name == "order" else name
            raise BadRequestProblem(
                detail=f"{given} does not apply to an export (Accept: {MEDIA_TYPE}), which "
                "sends every matching event oldest first: leave it out, or ask for "
                "application/json to get pages."
            )


async def export_events(session_id: uuid.UUID, filters: dict) -> Response:
    """`filters`: the request's filters as db_filters.requested gives them."""
    _refuse_paging()
    read_filters(filters)  # a refusal is a 400 before the stream starts

    async def read(after: int):
        async with database().read_direct(after) as runner:
            return await db_pages.read_version(runner, session_id)

    version = await lagging.found(database(), read)
    if version is None:
        raise SessionNotFound(session_id)
    tag = etag(MEDIA_TYPE, version.created_at, version.latest_seq, filters)
    headers = {"ETag": tag, **LISTING_CACHING}
    if etag_matches(request_header(b"if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    upto = min(filters.get(db_filters.UNTIL_SEQ.parameter, version.latest_seq), version.latest_seq)
    after = filters.get(db_filters.AFTER_SEQ.parameter, 0)
    lines = _lines(session_id, version.created_at, filters, after, upto)
    headers["X-Latest-Seq"] = str(version.latest_seq)
    headers["Content-Disposition"] = f'attachment; filename="session-{session_id}.ndjson"'
    return LinesResponse(lines, headers)


async def _lines(session_id: uuid.UUID, created_at: str, filters: dict, after: int, upto: int):
    """The events after `after` up to `upto` that `filters` keep, a page of lines at a time."""
    cursor = after
    while cursor < upto:
        try:
            query = db_pages.events_between(session_id, filters, cursor, upto, PAGE)
            page = await lagging.page_reaching(database(), query, upto)
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("export_cut_short", session_id=str(session_id), sent_upto=cursor)
            raise CutShort from error
        if page is None or page.version.created_at != created_at:
            log.warning("export_cut_short", session_id=str(session_id), reason="deleted")
            raise CutShort
        if not page.count:
            return
        documents = loads(page.items)
        # One line each, escaped as an SSE data line is: no line break of any kind inside.
        yield b"".join(sse_line(dumps(document)) + b"\n" for document in documents)
        cursor = documents[-1]["seq"]
        if not page.more:
            return


class LinesResponse(ChunkedBody):
    """An application/x-ndjson body written from an async iterator of chunks of lines; a
    failure once it has started cuts it short (see ChunkedBody)."""

    media_type = MEDIA_TYPE
    complete_on_failure = False
    failure_log = "export_failed"

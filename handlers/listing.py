"""What the events listing and its stream share: the filters a request gives, read once for
their query (db/pages.py ListingQuery); and for listings, conditional GET and page links (the ETag,
If-None-Match, the Link header)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from connexion.exceptions import BadRequestProblem

from session_events.db import filters as db_filters

# Every answer of the events listing, JSON page or NDJSON export: revalidated each time, and
# chosen by the Accept header, which a cache must therefore key on.
LISTING_CACHING = {"Cache-Control": "no-cache", "Vary": "Accept"}


def read_filters(filters: Mapping[str, Any]) -> db_filters.Chosen:
    """The filters a request gives (db_filters.requested) as its query takes them. A value a
    filter cannot read is a 400 that names it."""
    try:
        return db_filters.read(filters)
    except ValueError as error:
        raise BadRequestProblem(detail=str(error)) from None


def etag(*parts: object) -> str:
    """A strong ETag over everything the body depends on."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f'"{digest}"'


def etag_matches(if_none_match: str | None, current: str) -> bool:
    """RFC 9110 If-None-Match: a list of (possibly weak) entity tags, or *."""
    if not if_none_match:
        return False
    candidates = [tag.strip() for tag in if_none_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in candidates)


def link_header(
    path: str,
    query: dict[str, object],
    *,
    page: int,
    has_next: bool,
    last_page: int | None,
) -> str:
    """RFC 8288 first/prev/next/last links; `query` (the listing's filters) goes in every one."""

    shared = urlencode(query, doseq=True)  # encoded once for the up to four links
    prefix = f"{path}?{shared}&page=" if shared else f"{path}?page="

    def url(number: int) -> str:
        return f"{prefix}{number}"

    links = [(1, "first")]
    if page > 1:
        links.append((page - 1, "prev"))
    if has_next:
        links.append((page + 1, "next"))
    if last_page:
        links.append((last_page, "last"))
    return ", ".join(f'<{url(number)}>; rel="{rel}"' for number, rel in links)

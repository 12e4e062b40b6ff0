"""Conditional GET and page links for listings: the ETag, If-None-Match, the Link header."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote_plus


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

    shared = query_string(query)  # encoded once for the up to four links
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


# What quote_plus leaves as it is: no need to call it (it was most of a poll's Link header).
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(value: object) -> str:
    text = str(value)
    return text if _PLAIN.fullmatch(text) else quote_plus(text)


def query_string(query: dict[str, object]) -> str:
    """urlencode(query, doseq=True) for str, int and list values: a list's items repeat the name."""
    return "&".join(
        f"{_quoted(name)}={_quoted(item)}"
        for name, value in query.items()
        for item in (value if isinstance(value, list | tuple) else (value,))
    )

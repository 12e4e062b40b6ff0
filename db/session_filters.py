"""GET /sessions' filters (the sessions stream takes status and types of them), as one set of
WHERE conditions that the listing and its per-status counts share."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, cast, func, or_
from sqlalchemy.sql import ColumnElement

from session_events.db.filters import fold_case
from session_events.db.query_components import QueryComponents
from session_events.db.tables import sessions


@dataclass(frozen=True)
class SessionFilters:
    """Every filter is optional; given ones combine (AND)."""

    status: str | None = None
    session_types: Sequence[str] = ()  # any of them
    project_path: str | None = None  # a prefix, matched exactly (case and all)
    created_after: datetime | None = None  # at or after
    created_before: datetime | None = None  # strictly before
    search: str | None = None  # see `_search`

    def without_status(self) -> SessionFilters:
        return dataclasses.replace(self, status=None)


def conditions(chosen: SessionFilters, c: QueryComponents) -> list[ColumnElement]:
    """The WHERE conditions of `chosen` (none for no filter)."""
    s = sessions.c
    found: list[ColumnElement] = []
    if chosen.status is not None:
        found.append(s.status == chosen.status)
    if chosen.session_types:
        found.append(s.session_type.in_(chosen.session_types))
    if chosen.project_path is not None:
        # substr, not LIKE: SQLite's LIKE ignores ASCII case, and a prefix is matched as written.
        prefix = chosen.project_path
        found.append(func.substr(s.project_path, 1, len(prefix)) == prefix)
    if chosen.created_after is not None:
        found.append(s.created_at >= chosen.created_after)
    if chosen.created_before is not None:
        found.append(s.created_at < chosen.created_before)
    if chosen.search is not None:
        found.append(_search(chosen.search, c))
    return found


def _search(text: str, c: QueryComponents) -> ColumnElement:
    """The id starts with `text`, or the type, project path or last message contains it,
    ignoring case as the events' `q` does (filters.fold_case); `%` and `_` are plain text."""
    s = sessions.c
    folded = fold_case(text)
    return or_(
        func.substr(func.lower(cast(c.uuid_text(s.id), Text)), 1, len(folded)) == folded,
        c.folded_contains(s.session_type, folded),
        c.folded_contains(s.project_path, folded),
        c.folded_contains(s.last_message, folded),
    )

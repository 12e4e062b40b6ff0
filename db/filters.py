"""The events listing's filters, each declared once: the query parameter it is read from, whether
it skips seqs, and its SQL. Everything else a filter touches is derived from the declarations:
the request's filters as links repeat them and the ETag covers them, the query's values, the
statement's shape, whether a page is gap-free (its total arithmetic, its offset a seq bound) and
when the counts appends keep answer a total.

A filter either bounds the seq range and keeps every seq inside it (`since`, `after_seq`,
`until_seq`), or selects within the range and skips seqs (`event_type`, `step_id`, `q`). A new
filter is its parameter in the contract, one declaration in FILTERS and its SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, cast, func, select

from session_events.db.documents import parse_timestamp
from session_events.db.tables import UTCDateTime, event_type_counts, events


@dataclass(frozen=True, eq=False)  # hashed by identity: statement shapes hold declarations
class Filter:
    """One filter of the events listing.

    `sql` gives, for a bound, the seq the range is bounded by: (components, session_id, value)
    -> a seq expression; for a selection, the condition an event meets: (components, value) ->
    a condition.
    `value` is the filter's bound parameter, of `sql_type`; a `many` filter's value is several
    alternatives, any of which matches, each a parameter of its own and a condition read as its
    own index range: they must not overlap (`canonical` makes them distinct).
    """

    parameter: str  # the contract's query parameter; its key in a request's filters
    sql: Callable[..., Any]
    sql_type: Any
    bound: str | None = None  # "lower" or "upper" for a bound of the range; None: a selection
    many: bool = False
    default: Any = None  # the value that filters nothing: left out of links and the ETag
    # The contract's value as links repeat it, and as the query takes it (ValueError with a
    # sentence if it cannot be read); None: as it is, which spares the hot path a call.
    canonical: Callable[[Any], Any] | None = None
    read: Callable[[Any], Any] | None = None
    # The whole session's total from the counts appends keep, (session_id, value) -> a scalar,
    # where they answer it: only when this is the one selection of the query.
    kept_total: Callable[..., Any] | None = None
    # The same filter over events held in memory (db/pages_in_memory.py), where it can be:
    # for a bound, value -> the seq it bounds by; for a selection, value -> a test of an
    # event's document (a dict). None: only the database can apply it.
    in_memory: Callable[[Any], Any] | None = None

    @property
    def skips_seqs(self) -> bool:
        """Whether the filter keeps only some seqs of its range: every selection does."""
        return self.bound is None


def _seq_at(c, session_id, since):
    """The seq of the newest event at or before `since` (0 if none): events after it match."""
    newest = (
        select(events.c.seq)
        .where(events.c.session_id == session_id, events.c.timestamp <= since)
        .order_by(events.c.timestamp.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(newest, 0)


def _kept_type_total(session_id, types):
    return (
        select(cast(func.coalesce(func.sum(event_type_counts.c.events), 0), BigInteger))
        .where(
            event_type_counts.c.session_id == session_id,
            event_type_counts.c.event_type.in_(types),
        )
        .scalar_subquery()
    )


# What `q` ignores: the case of the letters A to Z, as SQLite's lower() and PostgreSQL's lower()
# under the "C" collation do, so that the database and the hub's memory agree on every text.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_case(text: str) -> str:
    """The text as `q` compares it (c.folded_contains folds the same way)."""
    return text.translate(_ASCII_LOWER)


# The fields of an event document the in-memory tests below read: all a hub holds of an
# event besides its JSON text (session_events/hub.py), so what it holds stays near its count.
IN_MEMORY_FIELDS = ("event_type", "step_id", "message")


def _event_types(types):
    kept = frozenset(types)
    return lambda document: document["event_type"] in kept


def _step(step_id: UUID):
    text = str(step_id)
    return lambda document: document["step_id"] == text


def _message_containing(folded: str):
    def test(document: dict) -> bool:
        message = document["message"]
        return message is not None and folded in fold_case(message)

    return test


SINCE = Filter("since", _seq_at, UTCDateTime, bound="lower", read=parse_timestamp)
EVENT_TYPE = Filter(
    "event_type",
    lambda c, event_type: events.c.event_type == event_type,
    events.c.event_type.type,
    many=True,
    default=(),
    canonical=lambda types: tuple(dict.fromkeys(types)),
    kept_total=_kept_type_total,
    in_memory=_event_types,
)
STEP_ID = Filter(
    "step_id",
    lambda c, step_id: events.c.step_id == step_id,
    events.c.step_id.type,
    read=UUID,  # the contract's format check has refused what is not one
    in_memory=_step,
)
# The text is matched as it is (`%` and `_` too): a position in the folded message, not LIKE.
SEARCH = Filter(
    "q",
    lambda c, folded: c.folded_contains(events.c.message, folded),
    events.c.message.type,
    read=fold_case,
    in_memory=_message_containing,
)
AFTER_SEQ = Filter(
    "after_seq", lambda c, session_id, seq: seq, BigInteger, "lower", default=0, in_memory=int
)
UNTIL_SEQ = Filter("until_seq", lambda c, session_id, seq: seq, BigInteger, "upper", in_memory=int)

# In the order links repeat them.
FILTERS: tuple[Filter, ...] = (SINCE, EVENT_TYPE, STEP_ID, SEARCH, AFTER_SEQ, UNTIL_SEQ)

Chosen = tuple[tuple[Filter, Any], ...]


def requested(given: Mapping[str, Any]) -> dict[str, Any]:
    """The filters a request gives (its arguments by parameter; others are ignored), in the
    declarations' order, canonical, those that filter nothing left out: what links repeat and
    the ETag covers."""
    found = {}
    for declared in FILTERS:
        value = given.get(declared.parameter)
        if value is not None:
            if declared.canonical is not None:
                value = declared.canonical(value)
            if value != declared.default:
                found[declared.parameter] = value
    return found


def read(filters: Mapping[str, Any]) -> Chosen:
    """Requested filters as a query takes them: (declaration, value) pairs in the declarations'
    order. ValueError, with a sentence that names the parameter, for a value it cannot read."""
    chosen = []
    for declared in FILTERS:
        if declared.parameter in filters:
            value = filters[declared.parameter]
            if declared.read is not None:
                try:
                    value = declared.read(value)
                except ValueError as error:
                    raise ValueError(f"{declared.parameter}: {error}") from None
            chosen.append((declared, value))
    return tuple(chosen)

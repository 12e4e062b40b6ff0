"""PostgreSQL's fast path (db/fast_pg.py) held to plain SQLAlchemy Core.

The same operations (appends of varied batches, pages of varied queries, refusals) run on two
databases of one server: on one through the fast path (compiled SQL on the pooled connection's
asyncpg driver, its own binding, result processing and error translation), on the other with
each compiled statement's Core statement run by `AsyncConnection.execute` (SQLAlchemy's own). The
answers must be equal: rows, the Python types in them, and the errors as the service tells them
apart (a refusal, an integrity error, an outage, the SQLSTATE).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    Text,
    Uuid,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy import exc as sa

from session_events.db import appends, filters, migrate, pages
from session_events.db import sessions as db_sessions
from session_events.db.engine import open_database
from session_events.db.errors import DataError, is_unavailable, sqlstate
from session_events.db.fast_pg import DriverRunner
from session_events.db.statements import Runner, compile_statement
from session_events.db.tables import JSONDocument, UTCDateTime, event_type_counts
from session_events.settings import Settings
from support.pg_server import create_databases

pytestmark = [
    pytest.mark.postgres,
    # The append joins its one-row CTE of the locked session without a condition, on purpose;
    # Core's FROM linter (which compile_statement does not run) says so.
    pytest.mark.filterwarnings("ignore:.*cartesian product:sqlalchemy.exc.SAWarning"),
]

T0 = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)
TYPES = ["step_started", "step_completed", "workflow_error", "x" * 100, "y" * 101]
STEP = uuid.UUID(int=7)
MESSAGES = ["Compile ERROR", None, "100% a_b"]


# For the rest of the connection's transaction (or, outside one, its session).
SHORT_TIMEOUT = compile_statement(
    select(func.set_config("statement_timeout", "200", text("true"))),
    open_database(Settings(database_url="postgresql://x@y/z")).writer.dialect,
)


class CoreStatements(Runner):
    """Each compiled statement's Core statement, run by SQLAlchemy on a connection in a
    transaction: its binding, result processing and error wrapping."""

    def __init__(self, conn):
        super().__init__(conn.dialect)
        self.conn = conn

    async def rows(self, compiled, values):
        result = await self.conn.execute(compiled.statement, dict(values))
        return [tuple(row) for row in result] if result.returns_rows else []


class Sides:
    """Two databases with the same history, one run through each path; ids are drawn from one
    counter started again for each side, so both store the same rows."""

    def __init__(self, loop: asyncio.Runner, fast, core):
        self.loop, self.fast, self.core = loop, fast, core
        self.next_id = random.getrandbits(64) << 48  # apart from earlier runs on this server

    def run(self, operation, *, session: bool = True) -> tuple:
        """operation(runner, session_id, make_id) on both sides, a new session made first (with
        `session`): (fast answer, core answer)."""
        start = self.next_id
        answers = []
        for database, via in ((self.fast, "fast"), (self.core, "core")):
            ids = (uuid.UUID(int=n) for n in itertools.count(start))
            answers.append(self.loop.run(_on(database, via, operation, ids.__next__, session)))
        self.next_id += 10_000
        return tuple(answers)


async def _on(database, via, operation, make_id, session: bool):
    session_id = make_id()
    if session:
        async with database.write() as conn:
            await db_sessions.create_session(conn, session_type="t", session_id=session_id, now=T0)
    try:
        if via == "fast":
            async with database.write_direct() as runner:
                assert isinstance(runner, DriverRunner)
                return ("ok", await operation(runner, session_id, make_id))
        async with database.write() as conn:
            return ("ok", await operation(CoreStatements(conn), session_id, make_id))
    except DataError as error:  # a refusal of the data layer
        return ("refused", type(error).__name__, str(error))
    except sa.DBAPIError as error:
        verdict = isinstance(error, sa.IntegrityError), is_unavailable(error), sqlstate(error)
        return ("database error", *verdict)


def typed(value):
    """A value with the types of everything in it, to compare those too."""
    if isinstance(value, list | tuple):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    kind = type(value)
    return (f"{kind.__module__}.{kind.__qualname__}", value)


@pytest.fixture(scope="module")
def sides(postgres):
    fast_url, core_url = create_databases(postgres.require(), ["fast_path", "core_path"])
    loop = asyncio.Runner()
    fast, core = (open_database(Settings(database_url=url)) for url in (fast_url, core_url))
    for database in (fast, core):
        loop.run(migrate.upgrade(database))
    yield Sides(loop, fast, core)
    for database in (fast, core):
        loop.run(database.dispose())
    loop.close()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
events = st.fixed_dictionaries(
    {"event_type": st.sampled_from(TYPES)},
    optional={
        "event_data": st.dictionaries(st.text(max_size=6), json_values, max_size=4),
        "message": st.none() | st.text(max_size=12),  # NUL included: PostgreSQL refuses it
        "step_id": st.none() | st.uuids(),
        "id": st.none() | st.sampled_from(range(4)),  # an index of ids this example reuses
    },
)
batches = st.lists(st.lists(events, min_size=1, max_size=5), min_size=1, max_size=4)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=batches, step=st.integers(min_value=-3, max_value=3))
def test_appends_answer_alike(sides, batches, step):
    async def operation(runner, session_id, make_id):
        chosen = [make_id() for _ in range(4)]
        answers = []
        for n, batch in enumerate(batches):
            items = [
                {**item, "id": None if item.get("id") is None else chosen[item["id"]]}
                for item in batch
            ]
            # Clock steps back and forth: stamps still increase.
            now = T0 + timedelta(microseconds=step * n)
            try:
                appended = await _appended(runner, session_id, items, now, make_id)
                answers.append(typed([appended.seqs, appended.stored, appended.documents]))
            except DataError as error:
                answers.append(("refused", type(error).__name__))
        return answers

    fast, core = sides.run(operation)
    assert fast == core


async def _appended(runner, session_id, items, now, make_id):
    original = uuid.uuid4
    uuid.uuid4 = make_id  # ids the server chooses: the same on both sides
    try:
        return await appends.append_events(runner, session_id=session_id, new_events=items, now=now)
    finally:
        uuid.uuid4 = original


def test_a_batch_the_database_refuses_is_the_same_error_both_ways(sides):
    async def operation(runner, session_id, _make_id):
        return await appends.append_events(
            runner, session_id=session_id, new_events=[{"event_type": "y" * 101}], now=T0
        )

    fast, core = sides.run(operation)
    assert fast == core == ("database error", False, False, "22001")  # value too long


@pytest.mark.parametrize(
    ("statement", "verdict"),
    [
        (  # a foreign key violation: an integrity error
            insert(event_type_counts).values(
                session_id=bindparam("session_id", type_=Uuid()), event_type="a", events=1
            ),
            ("database error", True, False, "23503"),
        ),
        (  # the square root of -1: a bug, not an outage
            select(func.sqrt(bindparam("zero", type_=BigInteger) - 1)),
            ("database error", False, False, "2201F"),
        ),
        (  # no such function: a bug
            select(func.no_such_function(bindparam("session_id", type_=Uuid()))),
            ("database error", False, False, "42883"),
        ),
        (  # the statement's own deadline: an outage
            select(func.pg_sleep(bindparam("zero", type_=BigInteger) + 1)),
            ("database error", False, True, "57014"),
        ),
    ],
    ids=["integrity", "data", "programming", "statement_timeout"],
)
def test_a_statement_the_database_refuses_is_the_same_error_both_ways(sides, statement, verdict):
    compiled = compile_statement(statement, sides.fast.writer.dialect)

    async def operation(runner, session_id, _make_id):
        async with runner.transaction():  # (the Core side's is there already)
            await runner.rows(SHORT_TIMEOUT, {})
            return await runner.rows(compiled, {"session_id": session_id, "zero": 0})

    fast, core = sides.run(operation, session=False)
    assert fast == core == verdict


def test_an_append_to_no_session_is_refused_both_ways(sides):
    async def operation(runner, session_id, _make_id):
        return await appends.append_events(
            runner, session_id=session_id, new_events=[{"event_type": "a"}], now=T0
        )

    fast, core = sides.run(operation, session=False)
    assert fast == core
    assert fast[:2] == ("refused", "SessionNotFound")


queries = st.fixed_dictionaries(
    {
        "since": st.none() | st.integers(min_value=-2, max_value=40),
        "event_types": st.lists(st.sampled_from(TYPES[:3]), max_size=3, unique=True),
        "after_seq": st.integers(min_value=0, max_value=30),
        "until_seq": st.none() | st.integers(min_value=0, max_value=30),
        "step_id": st.none() | st.just(STEP),
        "q": st.none() | st.sampled_from(["compile", "%", "_b"]),
        "ascending": st.booleans(),
        "offset": st.integers(min_value=0, max_value=2**62),
        "limit": st.integers(min_value=1, max_value=12),
        "count_total": st.booleans(),
    }
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shapes=st.lists(queries, min_size=1, max_size=4), types=st.lists(st.integers(0, 2)))
def test_pages_answer_alike(sides, shapes, types):
    async def operation(runner, session_id, make_id):
        batch = [
            {
                "event_type": TYPES[n],
                "event_data": {"n": k},
                "step_id": STEP if k % 2 else None,
                "message": MESSAGES[k % len(MESSAGES)],
            }
            for k, n in enumerate(types)
        ]
        if batch:
            await _appended(runner, session_id, batch, T0, make_id)
        answers = [typed(await pages.read_version(runner, session_id))]
        for shape in shapes:
            since = None if shape["since"] is None else T0 + timedelta(microseconds=shape["since"])
            values = {
                "since": since,
                "event_type": tuple(shape["event_types"]),
                "after_seq": shape["after_seq"],
                "until_seq": shape["until_seq"],
                "step_id": shape["step_id"],
                "q": shape["q"],
            }
            chosen = tuple(
                (declared, values[declared.parameter])
                for declared in filters.FILTERS
                if values[declared.parameter] not in (None, declared.default)
            )
            query = pages.ListingQuery(
                session_id,
                chosen,
                **{key: shape[key] for key in ("ascending", "offset", "limit", "count_total")},
            )
            page = await pages.read_page(runner, query)
            answers.append(typed(page.__dict__ if page else None))
        return answers

    fast, core = sides.run(operation)
    assert fast == core


# Each column type of db/tables.py, with values of its range (and NULL), bound and read back.
TYPED_VALUES = {
    Uuid(): st.uuids(),
    UTCDateTime(): st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
    BigInteger(): st.integers(min_value=-(2**63), max_value=2**63 - 1),
    String(100): st.text(max_size=20),
    Text(): st.text(max_size=20),
    JSONDocument: json_values,
    Boolean(): st.booleans(),
}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), kinds=st.lists(st.sampled_from(list(TYPED_VALUES)), min_size=1))
def test_values_of_every_column_type_are_bound_and_read_alike(sides, data, kinds):
    values = {f"v{n}": data.draw(st.none() | TYPED_VALUES[kind]) for n, kind in enumerate(kinds)}
    columns = [bindparam(f"v{n}", type_=kind) for n, kind in enumerate(kinds)]
    statement = select(*columns, literal(7, BigInteger))  # a literal of the statement's own
    compiled = compile_statement(statement, sides.fast.writer.dialect)

    async def operation(runner, _session_id, _make_id):
        return typed(await runner.rows(compiled, values))

    fast, core = sides.run(operation, session=False)
    assert fast == core

"""Core statements compiled once per shape and dialect, and run on one pooled connection.

A query module builds a statement for a shape (how many event types, which order, ...) once;
`compiled_once()` keeps its SQL text with the order of its bind names and the types' bind and
result processors, so a request pays neither SQLAlchemy's compilation nor its execution machinery.
The statement runs through `AsyncConnection.exec_driver_sql` (CoreRunner: SQLite, and any
connection in a Core transaction), or on the pooled connection's driver (db/fast_pg.py,
PostgreSQL's hot path).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from session_events.db.dialects import components
from session_events.db.query_components import QueryComponents


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the bind names in the order the driver takes the parameters
    defaults: tuple[Any, ...]  # the values of the statement's own literals
    binders: tuple[Callable | None, ...]
    readers: tuple[Callable | None, ...]  # one per result column
    # The Core statement compiled: what plain SQLAlchemy would run (the differential test does).
    statement: Any = field(compare=False, repr=False, default=None)

    def parameters(self, values: Mapping[str, Any]) -> tuple:
        return tuple(
            value if bind is None else bind(value)
            for value, bind in zip(
                map(values.get, self.names, self.defaults), self.binders, strict=True
            )
        )

    def read(self, row: Sequence) -> tuple:
        return tuple(
            value if r is None else r(value) for value, r in zip(row, self.readers, strict=True)
        )


def compile_statement(statement, dialect: Dialect) -> Compiled:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    own = compiled.params
    binders = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    readers = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in getattr(statement, "exported_columns", ())
    )
    defaults = tuple(own[n] for n in names)
    return Compiled(str(compiled), names, defaults, binders, readers, statement)


def compiled_once(build: Callable[..., Any]):
    """build(components, *shape) -> a statement (or a list of them), compiled once per dialect
    and shape: call the result as `built(dialect, *shape)`."""

    @functools.lru_cache(maxsize=256)
    def cached(dialect: Dialect, *shape):
        built = build(components(dialect.name), *shape)
        if isinstance(built, list):
            return tuple(compile_statement(statement, dialect) for statement in built)
        return compile_statement(built, dialect)

    return cached


class Runner:
    """Runs compiled statements on one connection; rows come back as tuples, values processed."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self.components: QueryComponents = components(dialect.name)

    async def rows(self, compiled: Compiled, values: Mapping[str, Any]) -> list[tuple]:
        raw = await self._fetch(compiled.sql, compiled.parameters(values))
        return [compiled.read(row) for row in raw]

    async def row(self, compiled: Compiled, values: Mapping[str, Any]) -> tuple | None:
        rows = await self.rows(compiled, values)
        return rows[0] if rows else None

    async def value(self, sql: str) -> Any:
        """The first value of a statement of fixed SQL (one without parameters)."""
        rows = await self._fetch(sql, ())
        return rows[0][0] if rows else None

    async def fetch_raw(self, sql: str, parameters: tuple) -> Sequence[Sequence]:
        """The driver's rows of a statement already compiled, its values not processed."""
        return await self._fetch(sql, parameters)

    def transaction(self) -> AbstractAsyncContextManager:
        """A transaction around several statements (a no-op inside the caller's own)."""
        return nullcontext()

    async def _fetch(self, sql: str, parameters: tuple) -> Sequence[Sequence]:
        raise NotImplementedError


class CoreRunner(Runner):
    """On a SQLAlchemy connection: its events, transaction and error wrapping apply."""

    def __init__(self, conn: AsyncConnection):
        super().__init__(conn.dialect)
        self.conn = conn

    async def _fetch(self, sql, parameters):
        result = await self.conn.exec_driver_sql(sql, parameters)
        return result.all() if result.returns_rows else []

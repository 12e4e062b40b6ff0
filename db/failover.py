"""A read that a replica fails under, made on the primary: which failures mean the replica is
gone, and the hot reads' runner that moves to the primary at the statement that failed."""

from __future__ import annotations

from contextlib import AsyncExitStack

from session_events.db.errors import is_unavailable, postgres_timed_out
from session_events.db.replicas import Replica
from session_events.db.statements import Runner


def gone(error: BaseException) -> bool:
    """Whether a replica failing a read with `error` is out of reach (the read is made on the
    primary), rather than the read being too slow there, which it would be on the primary too."""
    return is_unavailable(error) and not postgres_timed_out(error)


class FailoverRunner(Runner):
    """Runs statements on a replica; once one fails there (or the replica could not be reached),
    it and the rest run on the primary, so a replica going away costs no read. Reads only: each
    statement stands alone, so running it again elsewhere is safe."""

    def __init__(self, replica: Replica, runner: Runner | None, primary, stack: AsyncExitStack):
        super().__init__(replica.database.writer.dialect)
        self.replica = replica
        self.runner = runner
        self.primary = primary  # () -> the primary's runner, as a context manager
        self.stack = stack
        self.fallen_back: Runner | None = None

    async def _fetch(self, sql, parameters):
        if self.fallen_back is None and self.runner is not None:
            try:
                return await self.runner.fetch_raw(sql, parameters)
            except Exception as error:
                if not gone(error):
                    raise
                self.replica.failed(error)
        if self.fallen_back is None:
            self.fallen_back = await self.stack.enter_async_context(self.primary())
        return await self.fallen_back.fetch_raw(sql, parameters)

"""What monitoring asks of the meta store: readiness, status counts, the event feed's head.

These run on every Prometheus scrape and readiness probe, so each is a fixed, small number of
indexed or grouped queries however much history the store holds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError

from aiflow.errors import MetaStoreError
from aiflow.schemas.entities import ExecutionStatus, JobStatus, StatusCounts
from aiflow.store import db, migrations
from aiflow.store._base import StoreBase
from aiflow.store.orm import SqlEvent, SqlExecution, SqlJob


class StatsStore(StoreBase):
    def check_ready(self) -> str:
        """The store's schema revision if it is reachable and at the code's head revision;
        raise ``MetaStoreError`` saying what is wrong otherwise.

        Checked afresh on every call (unlike the once-per-process check before first use), so
        a readiness probe notices a store that went away or was migrated behind our back.
        """
        if self._auto_upgrade:
            self._engine()  # embedded SQLite migrates itself on first use: do that now
        try:
            current = migrations.current(self.uri)
        except (OperationalError, InterfaceError) as exc:
            raise MetaStoreError(
                f"meta store {db.display_url(self.uri)} is unreachable: {exc.orig or exc}"
            ) from exc
        head = migrations.head()
        if current != head:
            raise migrations.schema_error(self.uri, current)
        return current

    def count_by_status(self) -> StatusCounts:
        """Executions and jobs per status: one grouped query per table, one transaction."""
        # Not dict(result): a Result has .keys() (its columns), so dict() would take it for a
        # mapping.
        with self._read() as session:
            executions: dict[ExecutionStatus, int] = {
                status: count
                for status, count in session.execute(
                    select(SqlExecution.status, func.count()).group_by(SqlExecution.status)
                )
            }
            jobs: dict[JobStatus, int] = {
                status: count
                for status, count in session.execute(
                    select(SqlJob.status, func.count()).group_by(SqlJob.status)
                )
            }
        return StatusCounts(
            executions={status: executions.get(status, 0) for status in ExecutionStatus},
            jobs={status: jobs.get(status, 0) for status in JobStatus},
        )

    def latest_event_at(self) -> datetime | None:
        """When the newest event was written (``None`` without events).

        The newest by ``seq`` (the primary key: one index probe), not ``max(created_at)``,
        which would scan the whole feed; seq order is commit order (see ``add_event``).
        """
        with self._read() as session:
            return session.scalar(
                select(SqlEvent.created_at).order_by(SqlEvent.seq.desc()).limit(1)
            )

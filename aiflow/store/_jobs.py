"""The jobs of executions: status changes, fields set by deployers and the runtime, lookups.

Jobs are created with their execution (``_runs.add_execution``), in the same transaction. Status
changes are compare-and-set, like an execution's (see ``_runs``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final, Unpack

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aiflow.errors import NotFound
from aiflow.schemas.entities import Job, JobStatus
from aiflow.schemas.inputs import JobFields
from aiflow.store._base import StoreBase, add_event, rowcount
from aiflow.store._runs import execution_entity
from aiflow.store.orm import SqlJob, SqlJobDependency, utcnow

_JOB_FIELDS: Final = frozenset(JobFields.__annotations__)


class JobStore(StoreBase):
    def list_jobs(self, execution_id: int) -> list[Job]:
        """The jobs of an execution in creation order, in two queries whatever their number."""
        with self._read() as session:
            rows = session.scalars(
                select(SqlJob).where(SqlJob.execution_id == execution_id).order_by(SqlJob.id)
            ).all()
            if not rows:
                execution_entity(session, execution_id)  # NotFound, or an execution without jobs
                return []
            edges = session.execute(
                select(SqlJobDependency.job_id, SqlJobDependency.depends_on_id)
                .join(SqlJob, SqlJob.id == SqlJobDependency.job_id)
                .where(SqlJob.execution_id == execution_id)
                .order_by(SqlJobDependency.job_id, SqlJobDependency.depends_on_id)
            )
            depends_on: dict[int, list[int]] = defaultdict(list)
            for job_id, dep_id in edges:
                depends_on[job_id].append(dep_id)
            return [row.to_entity(depends_on[row.id]) for row in rows]

    def get_job(self, id: int) -> Job:
        with self._read() as session:
            return _job(session, id)

    def transition_job(
        self,
        job_id: int,
        to: JobStatus,
        *,
        expected: set[JobStatus] | None = None,
        **fields: Unpack[JobFields],
    ) -> bool:
        """Compare-and-set the status of job ``job_id``, plus ``fields``, like
        ``transition_execution``; on success also emits ``JOB_<STATUS>`` on
        ``execution/<id>`` in the same transaction, so watchers never miss a transition.

        Entering RUNNING starts a new attempt: ``started_at`` is now and the previous attempt's
        ``ended_at``, ``exit_code`` and ``error`` are cleared (unless given in ``fields``).
        """
        to = JobStatus(to)
        now = utcnow()
        values: dict[str, Any] = {"status": to}
        if to is JobStatus.RUNNING:
            values.update(started_at=now, ended_at=None, exit_code=None, error=None)
        if to.finished:
            values["ended_at"] = now
        values.update(_job_fields(fields))
        stmt = update(SqlJob).where(SqlJob.id == job_id).values(**values)
        if expected is not None:
            stmt = stmt.where(SqlJob.status.in_([JobStatus(s) for s in expected]))
        stmt = stmt.execution_options(synchronize_session=False)
        with self._write() as session:
            changed: tuple[int, str] | None = None
            if session.get_bind().dialect.update_returning:
                returned = stmt.returning(SqlJob.execution_id, SqlJob.name)
                row = session.execute(returned).one_or_none()
                if row is not None:
                    changed = (row.execution_id, row.name)
            elif rowcount(session.execute(stmt)) == 1:  # MySQL: no UPDATE ... RETURNING
                job = _job_row_by_id(session, job_id)
                changed = (job.execution_id, job.name)
            if changed is None:
                _job_row_by_id(session, job_id)  # raises NotFound if that is why
                return False
            execution_id, name = changed
            add_event(session, f"execution/{execution_id}", f"JOB_{to.upper()}", name)
            return True

    def update_job(self, job_id: int, **fields: Unpack[JobFields]) -> Job:
        """Set ``fields`` (e.g. ``result``, ``handle``) without touching the status."""
        values = _job_fields(fields)
        with self._write() as session:
            if values:
                session.execute(
                    update(SqlJob)
                    .where(SqlJob.id == job_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            return _job(session, job_id)


def _job_fields(fields: JobFields) -> dict[str, Any]:
    unknown = set(fields) - _JOB_FIELDS
    if unknown:
        raise TypeError(f"unknown job fields {sorted(unknown)}; allowed: {sorted(_JOB_FIELDS)}")
    return dict(fields)


def _job_row_by_id(session: Session, id: int) -> SqlJob:
    row = session.get(SqlJob, id)
    if row is None:
        raise NotFound(f"job {id} not found (see `aiflow job list EXECUTION_ID`)")
    return row


def _job(session: Session, id: int) -> Job:
    row = _job_row_by_id(session, id)
    depends_on = session.scalars(
        select(SqlJobDependency.depends_on_id)
        .where(SqlJobDependency.job_id == id)
        .order_by(SqlJobDependency.depends_on_id)
    ).all()
    return row.to_entity(list(depends_on))

"""Executions (one run of a workflow version) and their jobs.

Status changes are compare-and-set (``UPDATE ... WHERE status IN expected``) rather than
read-modify-write: the scheduler, the job runtime and ``aiflow stop`` race on the same rows from
different processes, and exactly one of them may win each transition.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Final, Unpack

from sqlalchemy import ColumnElement, func, insert, literal, select, update
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput, NotFound
from aiflow.store._base import (
    UNSET,
    StoreBase,
    Unset,
    add_event,
    check_limit,
    reject_duplicates,
    rowcount,
)
from aiflow.store._workflows import workflow_by_name
from aiflow.store.entities import Execution, ExecutionStatus, Job, JobStatus
from aiflow.store.models import JobCreate, JobFields
from aiflow.store.orm import (
    SqlExecution,
    SqlJob,
    SqlJobDependency,
    SqlWorkflow,
    SqlWorkflowVersion,
    UtcDateTime,
    utcnow,
)

MODES: Final = frozenset({"batch", "stream"})
_JOB_FIELDS: Final = frozenset(JobFields.__annotations__)


class RunStore(StoreBase):
    # -- executions ---------------------------------------------------------------------------

    def create_execution(
        self,
        workflow_version_id: int,
        mode: str,
        engine: str,
        deployer: str,
        jobs: list[JobCreate],
    ) -> Execution:
        """Create a queued execution with its queued jobs and their dependency edges.

        The job graph is validated first (unique names, known dependencies, no cycle), so a bad
        graph writes nothing; the rows are then written in one transaction, so a scheduler never
        sees an execution with half of its jobs.
        """
        check_execution(mode, jobs)
        with self._write() as session:
            return add_execution(session, workflow_version_id, mode, engine, deployer, jobs)

    def get_execution(self, id: int) -> Execution:
        with self._read() as session:
            return _execution(session, id)

    def list_executions(
        self,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 50,
    ) -> list[Execution]:
        """Newest first; ``workflow`` must exist (a typo should not look like "no runs")."""
        check_limit(limit)
        with self._read() as session:
            stmt = (
                select(SqlExecution, SqlWorkflow.name)
                .join(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlExecution.workflow_version_id)
                .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
                .order_by(SqlExecution.id.desc())
                .limit(limit)
            )
            if workflow is not None:
                stmt = stmt.where(SqlWorkflow.id == workflow_by_name(session, workflow).id)
            if status is not None:
                stmt = stmt.where(SqlExecution.status == ExecutionStatus(status))
            return [row.to_entity(name) for row, name in session.execute(stmt)]

    def update_execution(
        self,
        id: int,
        *,
        driver_pid: int | Unset | None = UNSET,
        driver_host: str | Unset | None = UNSET,
        error: str | Unset | None = UNSET,
    ) -> Execution:
        """Set the given fields (``None`` clears one; fields not passed stay as they are)."""
        given = {"driver_pid": driver_pid, "driver_host": driver_host, "error": error}
        values = {key: value for key, value in given.items() if value is not UNSET}
        with self._write() as session:
            if values:
                session.execute(
                    update(SqlExecution)
                    .where(SqlExecution.id == id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            return _execution(session, id)

    def transition_execution(
        self,
        id: int,
        to: ExecutionStatus,
        *,
        expected: set[ExecutionStatus] | None = None,
        error: str | None = None,
    ) -> bool:
        """Move execution ``id`` to ``to`` if its status is in ``expected`` (any when ``None``).

        Returns False, changing nothing, when the status was not in ``expected``. Entering
        RUNNING sets ``started_at`` once (a resumed execution keeps its first start); entering a
        final status sets ``ended_at``.
        """
        to = ExecutionStatus(to)
        now = utcnow()
        values: dict[str, Any] = {"status": to}
        if to is ExecutionStatus.RUNNING:
            values["started_at"] = func.coalesce(SqlExecution.started_at, _timestamp(now))
        if to.finished:
            values["ended_at"] = now
        if error is not None:
            values["error"] = error
        stmt = update(SqlExecution).where(SqlExecution.id == id).values(**values)
        if expected is not None:
            stmt = stmt.where(SqlExecution.status.in_([ExecutionStatus(s) for s in expected]))
        with self._write() as session:
            result = session.execute(stmt.execution_options(synchronize_session=False))
            if rowcount(result) == 1:
                return True
            _execution(session, id)  # raises NotFound if that is why nothing matched
            return False

    # -- jobs ---------------------------------------------------------------------------------

    def list_jobs(self, execution_id: int) -> list[Job]:
        """The jobs of an execution in creation order, in two queries whatever their number."""
        with self._read() as session:
            rows = session.scalars(
                select(SqlJob).where(SqlJob.execution_id == execution_id).order_by(SqlJob.id)
            ).all()
            if not rows:
                _execution(session, execution_id)  # NotFound, or an execution without jobs
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


def check_execution(mode: str, jobs: list[JobCreate]) -> None:
    """What ``add_execution`` needs checked before its transaction starts."""
    if mode not in MODES:
        raise InvalidInput(f"execution mode '{mode}' is not one of {sorted(MODES)}")
    _validate_graph(jobs)


def add_execution(
    session: Session,
    workflow_version_id: int,
    mode: str,
    engine: str,
    deployer: str,
    jobs: list[JobCreate],
    *,
    trigger_id: int | None = None,
) -> Execution:
    """Insert a queued execution, its jobs and their edges in ``session`` (checked by
    ``check_execution`` first); shared by ``create_execution`` and trigger fires, which record
    the execution in the same transaction as the fire."""
    workflow_name = session.scalar(
        select(SqlWorkflow.name)
        .join(SqlWorkflowVersion, SqlWorkflowVersion.workflow_id == SqlWorkflow.id)
        .where(SqlWorkflowVersion.id == workflow_version_id)
    )
    if workflow_name is None:
        raise NotFound(
            f"workflow version {workflow_version_id} not found (see `aiflow workflow show NAME`)"
        )
    execution = SqlExecution(
        workflow_version_id=workflow_version_id,
        mode=mode,
        engine=engine,
        deployer=deployer,
        status=ExecutionStatus.QUEUED,
        trigger_id=trigger_id,
    )
    session.add(execution)
    session.flush()
    rows = [_job_row(execution.id, job) for job in jobs]
    session.add_all(rows)
    session.flush()  # one batched INSERT ... RETURNING on PostgreSQL and SQLite
    ids = {row.name: row.id for row in rows}
    edges = [
        {"job_id": ids[job.name], "depends_on_id": ids[dep]}
        for job in jobs
        for dep in dict.fromkeys(job.depends_on)
    ]
    if edges:
        session.execute(insert(SqlJobDependency), edges)
    return execution.to_entity(workflow_name)


def _validate_graph(jobs: list[JobCreate]) -> None:
    reject_duplicates([job.name for job in jobs], "job")
    names = {job.name for job in jobs}
    for job in jobs:
        for dep in job.depends_on:
            if dep not in names:
                raise InvalidInput(
                    f"job '{job.name}' depends on unknown job '{dep}' (jobs: {sorted(names)})"
                )
    # Kahn's algorithm: whatever cannot be ordered is on (or behind) a cycle, which would leave
    # the scheduler waiting forever.
    waiting = {job.name: set(job.depends_on) for job in jobs}
    ready = [name for name, deps in waiting.items() if not deps]
    while ready:
        done = ready.pop()
        for name, deps in waiting.items():
            if done in deps:
                deps.discard(done)
                if not deps:
                    ready.append(name)
    stuck = sorted(name for name, deps in waiting.items() if deps)
    if stuck:
        raise InvalidInput(f"job dependencies form a cycle through {stuck}")


def _job_row(execution_id: int, job: JobCreate) -> SqlJob:
    return SqlJob(
        execution_id=execution_id,
        name=job.name,
        engine=job.engine,
        status=JobStatus.QUEUED,
        attempt=0,
        max_retries=job.max_retries,
        retry_delay=job.retry_delay,
        timeout=job.timeout,
        spec=job.spec,
    )


def _job_fields(fields: JobFields) -> dict[str, Any]:
    unknown = set(fields) - _JOB_FIELDS
    if unknown:
        raise TypeError(f"unknown job fields {sorted(unknown)}; allowed: {sorted(_JOB_FIELDS)}")
    return dict(fields)


def _timestamp(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UtcDateTime())


def _execution(session: Session, id: int) -> Execution:
    row = session.execute(
        select(SqlExecution, SqlWorkflow.name)
        .join(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlExecution.workflow_version_id)
        .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
        .where(SqlExecution.id == id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"execution {id} not found (see `aiflow execution list`)")
    return row[0].to_entity(row[1])


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

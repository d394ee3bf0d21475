"""Executions: one run of a workflow version, created queued with all its jobs (``_jobs``).

Status changes are compare-and-set (``UPDATE ... WHERE status IN expected``) rather than
read-modify-write: the scheduler, the job runtime and ``aiflow stop`` race on the same rows from
different processes, and exactly one of them may win each transition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Update, func, insert, literal, select, update
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import Execution, ExecutionStatus, JobStatus
from aiflow.schemas.inputs import JobCreate
from aiflow.store._base import (
    UNSET,
    StoreBase,
    Unset,
    check_limit,
    count_rows,
    reject_duplicates,
    rowcount,
)
from aiflow.store._workflows import workflow_by_name
from aiflow.store.orm import (
    SqlExecution,
    SqlJob,
    SqlJobDependency,
    SqlTrigger,
    SqlWorkflow,
    SqlWorkflowVersion,
    UtcDateTime,
    utcnow,
)

MODES: Final = frozenset({"batch", "stream"})


class RunStore(StoreBase):
    # -- executions ---------------------------------------------------------------------------

    def create_execution(
        self,
        workflow_version_id: int,
        mode: str,
        engine: str,
        deployer: str,
        jobs: list[JobCreate],
        *,
        trigger_event_seq: int | None = None,
    ) -> Execution:
        """Create a queued execution with its queued jobs and their dependency edges (and the
        event its jobs receive, when it reruns an execution an event started).

        The job graph is validated first (unique names, known dependencies, no cycle), so a bad
        graph writes nothing; the rows are then written in one transaction, so a scheduler never
        sees an execution with half of its jobs.
        """
        check_execution(mode, jobs)
        with self._write() as session:
            return add_execution(
                session,
                workflow_version_id,
                mode,
                engine,
                deployer,
                jobs,
                trigger_event_seq=trigger_event_seq,
            )

    def get_execution(self, id: int) -> Execution:
        with self._read() as session:
            return execution_entity(session, id)

    def list_executions(
        self,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        *,
        mode: str | None = None,
        trigger: str | None = None,
    ) -> list[Execution]:
        """The newest ``limit`` executions, filtered like ``page_executions`` (its first page)."""
        return self.page_executions(
            workflow=workflow, status=status, mode=mode, trigger=trigger, limit=limit
        )

    def page_executions(
        self,
        *,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        mode: str | None = None,
        trigger: str | None = None,
        ascending: bool = False,
        cursor: int | None = None,
        limit: int = 50,
    ) -> list[Execution]:
        """Executions in creation order (newest first unless ``ascending``), those after the
        execution id ``cursor`` in that order. Ids grow with creation, so ordering by id is
        ordering by creation time without ties. A ``workflow`` or ``trigger`` (the one that
        started them) that does not exist is ``NotFound`` (a typo should not look like "no
        runs")."""
        check_limit(limit)
        with self._read() as session:
            stmt = (
                select(SqlExecution, SqlWorkflow.name)
                .join(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlExecution.workflow_version_id)
                .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
                .where(*_execution_filters(session, workflow, status, mode, trigger))
                .order_by(SqlExecution.id.asc() if ascending else SqlExecution.id.desc())
                .limit(limit)
            )
            if cursor is not None:
                stmt = stmt.where(
                    SqlExecution.id > cursor if ascending else SqlExecution.id < cursor
                )
            return [row.to_entity(name) for row, name in session.execute(stmt)]

    def count_executions(
        self,
        *,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        mode: str | None = None,
        trigger: str | None = None,
    ) -> int:
        """How many executions ``page_executions`` would page through with these filters."""
        with self._read() as session:
            filters = _execution_filters(session, workflow, status, mode, trigger)
            return count_rows(session, select(SqlExecution.id).where(*filters))

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
            return execution_entity(session, id)

    def claim_driver(
        self,
        id: int,
        *,
        replacing: tuple[int | None, str | None],
        pid: int,
        host: str,
        lease: bool = True,
    ) -> bool:
        """Record process ``pid`` on ``host`` as running execution ``id``'s driver, if its
        recorded driver is still ``replacing`` (pid, host; ``(None, None)`` for the first one)
        and it is running: a compare-and-set, so of the processes that found the same dead
        driver, one becomes the new one. Also records when the new driver started, which is
        its first lease renewal (``renew_driver``) unless it holds no ``lease`` (its heartbeat
        is then cleared)."""
        old_pid, old_host = replacing
        now = utcnow()
        stmt = (
            update(SqlExecution)
            .where(
                SqlExecution.id == id,
                SqlExecution.status == ExecutionStatus.RUNNING,
                SqlExecution.driver_pid.is_(None)
                if old_pid is None
                else SqlExecution.driver_pid == old_pid,
                SqlExecution.driver_host.is_(None)
                if old_host is None
                else SqlExecution.driver_host == old_host,
            )
            .values(
                driver_pid=pid,
                driver_host=host,
                driver_started_at=now,
                driver_heartbeat_at=now if lease else None,
            )
        )
        return self._compare_and_set(id, stmt)

    def renew_driver(self, id: int, *, pid: int, host: str) -> bool:
        """Renew the lease of execution ``id``'s driver, process ``pid`` on ``host``: set
        ``driver_heartbeat_at`` to now if that process is still its recorded driver and the
        execution has not ended. False, changing nothing, when it is not: another process
        adopted or ended the execution, and the caller is no longer its driver.

        The time is this host's clock, as for every timestamp the store writes; comparing it
        with another host's clock assumes the two agree to well within the lease."""
        stmt = (
            update(SqlExecution)
            .where(
                SqlExecution.id == id,
                SqlExecution.driver_pid == pid,
                SqlExecution.driver_host == host,
                SqlExecution.status.in_([ExecutionStatus.RUNNING, ExecutionStatus.STOPPING]),
            )
            .values(driver_heartbeat_at=utcnow())
        )
        return self._compare_and_set(id, stmt)

    def _compare_and_set(self, id: int, stmt: Update) -> bool:
        """Run a conditional UPDATE of execution ``id``: True if it matched the row; False if
        its condition did not hold; ``NotFound`` if there is no such execution."""
        with self._write() as session:
            result = session.execute(stmt.execution_options(synchronize_session=False))
            if rowcount(result) == 1:
                return True
            execution_entity(session, id)  # raises NotFound if that is why nothing matched
            return False

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
        return self._compare_and_set(id, stmt)


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
    trigger_event_seq: int | None = None,
) -> Execution:
    """Insert a queued execution, its jobs and their edges in ``session`` (checked by
    ``check_execution`` first); shared by ``create_execution`` and trigger fires, which record
    the execution (with the trigger and, for an event rule, the event) in the same transaction
    as the fire."""
    workflow = session.execute(
        select(SqlWorkflow.id, SqlWorkflow.name)
        .join(SqlWorkflowVersion, SqlWorkflowVersion.workflow_id == SqlWorkflow.id)
        .where(SqlWorkflowVersion.id == workflow_version_id)
    ).one_or_none()
    if workflow is None:
        raise NotFound(
            f"workflow version {workflow_version_id} not found (see `aiflow workflow show NAME`)"
        )
    workflow_id, workflow_name = workflow
    execution = SqlExecution(
        workflow_version_id=workflow_version_id,
        workflow_id=workflow_id,
        mode=mode,
        engine=engine,
        deployer=deployer,
        status=ExecutionStatus.QUEUED,
        trigger_id=trigger_id,
        trigger_event_seq=trigger_event_seq,
    )
    session.add(execution)
    session.flush()
    rows = [_new_job(execution.id, job) for job in jobs]
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
    # the scheduler waiting forever. Each job's dependents are listed once, so this is linear
    # in jobs and edges (thousands of jobs scanned every job per job released).
    waiting = {job.name: set(job.depends_on) for job in jobs}
    dependents: dict[str, list[str]] = {}
    for name, deps in waiting.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(name)
    ready = [name for name, deps in waiting.items() if not deps]
    while ready:
        done = ready.pop()
        for name in dependents.get(done, ()):
            deps = waiting[name]
            deps.discard(done)
            if not deps:
                ready.append(name)
    stuck = sorted(name for name, deps in waiting.items() if deps)
    if stuck:
        raise InvalidInput(f"job dependencies form a cycle through {stuck}")


def _new_job(execution_id: int, job: JobCreate) -> SqlJob:
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


def _execution_filters(
    session: Session,
    workflow: str | None,
    status: ExecutionStatus | None,
    mode: str | None,
    trigger: str | None = None,
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if trigger is not None:
        filters.append(SqlExecution.trigger_id == _trigger_id(session, trigger))
    if mode is not None:
        if mode not in MODES:
            raise InvalidInput(f"execution mode '{mode}' is not one of {sorted(MODES)}")
        filters.append(SqlExecution.mode == mode)
    if status is not None:
        filters.append(SqlExecution.status == ExecutionStatus(status))
    if workflow is not None:
        filters.append(SqlExecution.workflow_id == workflow_by_name(session, workflow).id)
    return filters


def _trigger_id(session: Session, name: str) -> int:
    """The id the executions trigger ``name`` started carry (``_triggers`` builds on this
    module, so it cannot be asked)."""
    found = session.scalar(select(SqlTrigger.id).where(SqlTrigger.name == name))
    if found is None:
        raise NotFound(f"trigger '{name}' not found (see `aiflow trigger list`)")
    return found


def _timestamp(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UtcDateTime())


def execution_entity(session: Session, id: int) -> Execution:
    row = session.execute(
        select(SqlExecution, SqlWorkflow.name)
        .join(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlExecution.workflow_version_id)
        .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
        .where(SqlExecution.id == id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"execution {id} not found (see `aiflow execution list`)")
    return row[0].to_entity(row[1])

"""A workflow's rules: the triggers of its event-driven jobs (``af.action_on_*``).

``set_workflow_rules`` makes them when a version is submitted (``submit_workflow``), pinned to
that version, and replaces them at the next submission. A rule is an event trigger with
``origin`` ``workflow``, the ``JobCreate`` of its job and an action; ``TriggerStore``
(``_triggers``, which builds on this module) lists and fires it like any event rule, with
the same compare-and-set cursor. What differs is what a fire does (``act_rule``): it builds
the execution from the row itself, in the fire's transaction, so the job that runs is the
one the rule held when the event was claimed, and the execution records the event's seq
(its job receives the event). ``restart`` and ``stop`` first move the job's unfinished
executions to ``stopping`` in that same transaction: a stop, too, happens once per event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aiflow.errors import AlreadyExists
from aiflow.schemas.entities import WORKFLOW_ORIGIN, ExecutionStatus, FireOutcome, TriggerKind
from aiflow.schemas.inputs import JobCreate, RuleCreate, TriggerFire
from aiflow.schemas.schedules import next_fire
from aiflow.store._base import StoreBase, reject_duplicates, rowcount
from aiflow.store._runs import add_execution
from aiflow.store.orm import (
    SqlEvent,
    SqlExecution,
    SqlTrigger,
    SqlWorkflow,
    SqlWorkflowVersion,
    utcnow,
)

_STOPPABLE: Final = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)

Acted = tuple[FireOutcome, int | None, str, list[int]]  # outcome, execution, reason, stopped
Selection = tuple[str, str | None, str | None, str | None]  # job, event type, key, value


class RuleStore(StoreBase):
    def set_workflow_rules(
        self, workflow_version_id: int, rules: list[RuleCreate], *, now: datetime | None = None
    ) -> None:
        """Make the workflow's rule triggers exactly ``rules``, pinned to the version
        ``workflow_version_id``: new rules start from the head of the event log, rules no
        longer there are deleted, and a rule that selects the same events as before keeps its
        cursor (and its enabled state), so no event is fired twice or skipped across versions;
        one that selects other events starts from now.

        ``AlreadyExists`` if a rule's name is another trigger's (a user's, or another
        workflow's), naming both; nothing is changed then."""
        now = now or utcnow()
        reject_duplicates([rule.name for rule in rules], "rule trigger")

        def work(session: Session) -> None:
            workflow_id, workflow_name = session.execute(
                select(SqlWorkflow.id, SqlWorkflow.name)
                .join(SqlWorkflowVersion, SqlWorkflowVersion.workflow_id == SqlWorkflow.id)
                .where(SqlWorkflowVersion.id == workflow_version_id)
                .with_for_update()  # submissions of one workflow replace its rules in turn
            ).one()
            existing = {
                row.name: row
                for row in session.scalars(
                    select(SqlTrigger).where(
                        SqlTrigger.workflow_id == workflow_id,
                        SqlTrigger.origin == WORKFLOW_ORIGIN,
                    )
                )
            }
            # Where each rule stands, by job and the events it selects: a rule that moved to
            # another index (one before it was removed) carries on from there.
            cursors: dict[Selection, int] = {
                (row.job["name"], row.event_type, row.event_key, row.event_value): row.event_cursor
                for row in existing.values()
                if row.job is not None and row.enabled and row.event_cursor is not None
            }
            for rule in rules:
                row = existing.pop(rule.name, None)
                if row is None:
                    row = _new_rule_row(session, workflow_id, workflow_name, rule, now)
                _set_rule(session, row, workflow_version_id, rule, now, cursors)
            for gone in existing.values():
                session.delete(gone)

        self._write_retrying(work)  # two first submissions racing: the loser updates


def act_rule(session: Session, fire: TriggerFire, row: SqlTrigger, skip: str | None) -> Acted:
    """Fire a workflow's rule: stop its job's unfinished executions (restart, stop), then
    start the job alone (start, restart) as an execution of the pinned version that carries
    the event, unless ``skip`` (``max_active``) says why not."""
    assert row.job is not None and row.workflow_version_id is not None  # a rule's row has both
    try:
        job = JobCreate.model_validate(row.job)
    except ValidationError as exc:  # written by a broken or newer aiflow: say so, carry on
        return FireOutcome.FAILED, None, f"{fire.reason}: its job is unreadable: {exc}", []
    stopped = _stop_job(session, row) if row.action != "start" else []
    did = f"stopped executions {', '.join(map(str, stopped))}" if stopped else "nothing to stop"
    if row.action == "stop":
        return FireOutcome.FIRED, None, f"{fire.reason}: {did}", stopped
    did = f"; {did}" if row.action == "restart" else ""
    if skip is not None:
        return FireOutcome.SKIPPED, None, skip + did, stopped
    execution = add_execution(
        session,
        row.workflow_version_id,
        row.mode,
        row.engine or job.engine,
        row.deployer or "local",
        [job],
        trigger_id=row.id,
        trigger_event_seq=fire.event_seq,
    )
    return FireOutcome.FIRED, execution.id, f"{fire.reason}: execution {execution.id}{did}", stopped


def _stop_job(session: Session, row: SqlTrigger) -> list[int]:
    """Ask every unfinished execution of ``row``'s job (started by any rule of that job) to
    stop: compare-and-set to ``stopping``, which their drivers act on. Returns their ids."""
    assert row.job is not None
    siblings = [
        id
        for id, job in session.execute(
            select(SqlTrigger.id, SqlTrigger.job).where(
                SqlTrigger.workflow_id == row.workflow_id, SqlTrigger.origin == WORKFLOW_ORIGIN
            )
        )
        if job is not None and job.get("name") == row.job["name"]
    ]
    candidates = session.scalars(
        select(SqlExecution.id)
        .where(SqlExecution.trigger_id.in_(siblings), SqlExecution.status.in_(_STOPPABLE))
        .order_by(SqlExecution.id)
    ).all()
    stopped = []
    for execution_id in candidates:  # few: the job's runs still going
        stmt = (
            update(SqlExecution)
            .where(SqlExecution.id == execution_id, SqlExecution.status.in_(_STOPPABLE))
            .values(status=ExecutionStatus.STOPPING)
            .execution_options(synchronize_session=False)
        )
        if rowcount(session.execute(stmt)) == 1:
            stopped.append(execution_id)
    return stopped


def _new_rule_row(
    session: Session, workflow_id: int, workflow_name: str, rule: RuleCreate, now: datetime
) -> SqlTrigger:
    """A new rule trigger (``_set_rule`` fills it in); ``AlreadyExists`` if another trigger
    has its name."""
    taken = session.execute(
        select(SqlTrigger.origin, SqlWorkflow.name)
        .join(SqlWorkflow, SqlWorkflow.id == SqlTrigger.workflow_id)
        .where(SqlTrigger.name == rule.name)
    ).one_or_none()
    if taken is not None:
        whose = "a rule" if taken[0] == WORKFLOW_ORIGIN else "a user's trigger"
        raise AlreadyExists(
            f"workflow '{workflow_name}': the rule trigger of job '{rule.job.name}' is named "
            f"'{rule.name}', but {whose} of workflow '{taken[1]}' has that name; delete it "
            f"(`aiflow trigger delete {rule.name}`) or rename the node"
        )
    row = SqlTrigger(
        name=rule.name,
        workflow_id=workflow_id,
        kind=TriggerKind.EVENT,
        origin=WORKFLOW_ORIGIN,
        enabled=True,
        created_at=now,
    )
    session.add(row)
    return row


def _set_rule(
    session: Session,
    row: SqlTrigger,
    workflow_version_id: int,
    rule: RuleCreate,
    now: datetime,
    cursors: dict[Selection, int],
) -> None:
    """Point ``row`` at ``rule`` of version ``workflow_version_id``. Its cursor stays if it
    selects the same events as before; else it is the cursor of the rule of this job that
    selected them (in ``cursors``), or the head of the event log: a new rule starts now."""
    selects = (rule.event_type, rule.event_key, rule.event_value)
    moved = (row.event_type, row.event_key, row.event_value) != selects
    row.event_type, row.event_key, row.event_value = selects
    row.workflow_version_id = workflow_version_id
    row.job = rule.job.model_dump(mode="json")
    row.action = rule.action
    row.mode, row.engine, row.deployer = rule.mode, rule.engine, rule.deployer
    row.updated_at = now
    if moved:  # after the fields: reading the log's head flushes the row
        carried = cursors.get((rule.job.name, *selects))
        if carried is None:
            start_from(session, row, now)
        else:
            row.event_cursor, row.next_fire_at = carried, None


def start_from(session: Session, row: SqlTrigger, now: datetime) -> None:
    """Set a trigger's position to ``now``: its next fire time after now, or the head of
    the event log."""
    if row.kind is TriggerKind.PERIODIC:
        row.next_fire_at = next_fire(cron=row.cron, interval=row.interval_seconds, now=now)
        row.event_cursor = None
    else:
        row.event_cursor = session.scalar(select(func.max(SqlEvent.seq))) or 0
        row.next_fire_at = None

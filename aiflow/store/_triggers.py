"""Triggers: schedules and event rules that start executions of stored workflows.

A trigger's *position* says what it has dealt with: ``next_fire_at`` for a periodic trigger,
``event_cursor`` (the seq of the last event considered) for an event rule. Creating or
enabling a trigger sets its position from *now*: a periodic trigger first fires at its next
scheduled time, an event rule only sees events written after that moment. Nothing fires for
the time a trigger did not exist or was disabled.

Firing (``fire_trigger``) moves the position by compare-and-set in the same transaction that
records the execution and the ``TRIGGER_<OUTCOME>`` event; see its docstring for why that makes
each fire happen exactly once with any number of schedulers.

A workflow's rules (the triggers of its event-driven jobs) are made by ``_rules`` and fired
here like any event rule; what their fire does is ``_rules.act_rule``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aiflow.errors import AlreadyExists, InvalidInput, NotFound
from aiflow.schemas.entities import (
    WORKFLOW_ORIGIN,
    Event,
    Execution,
    ExecutionStatus,
    Fire,
    FireOutcome,
    Trigger,
    TriggerKind,
    trigger_event_key,
)
from aiflow.schemas.inputs import TriggerCreate, TriggerFire, TriggerUpdate
from aiflow.store._base import add_event, check_limit, rowcount
from aiflow.store._rules import RuleStore, act_rule, start_from
from aiflow.store._runs import add_execution, check_execution
from aiflow.store._workflows import workflow_by_name
from aiflow.store.orm import (
    SqlEvent,
    SqlExecution,
    SqlTrigger,
    SqlWorkflow,
    SqlWorkflowVersion,
    utcnow,
)

_UNFINISHED = [s for s in ExecutionStatus if not s.finished]


class TriggerStore(RuleStore):
    # -- what users manage --------------------------------------------------------------------

    def create_trigger(self, spec: TriggerCreate, *, now: datetime | None = None) -> Trigger:
        """Create a trigger of an existing workflow (and version, if pinned); it first fires
        at its next scheduled time after ``now``, or on the first matching event after it."""
        now = now or utcnow()
        try:
            with self._write() as session:
                workflow = workflow_by_name(session, spec.workflow)
                version_id = None
                if spec.version is not None:
                    version_id = _version_id(session, workflow, spec.version)
                row = SqlTrigger(
                    name=spec.name,
                    workflow_id=workflow.id,
                    workflow_version_id=version_id,
                    kind=spec.kind,
                    cron=spec.cron,
                    interval_seconds=spec.interval,
                    event_type=spec.event_type,
                    event_key=spec.event_key,
                    event_value=spec.event_value,
                    mode=spec.mode,
                    engine=spec.engine,
                    deployer=spec.deployer,
                    max_active=spec.max_active,
                    enabled=spec.enabled,
                    created_at=now,
                    updated_at=now,
                    action="start",
                    origin="user",
                )
                start_from(session, row, now)
                session.add(row)
                session.flush()
                return row.to_entity(workflow.name, spec.version)
        except IntegrityError:
            # The unique index is the guarantee: no window between a check and the insert.
            raise AlreadyExists(
                f"trigger '{spec.name}' already exists (see `aiflow trigger list`)"
            ) from None

    def get_trigger(self, name: str) -> Trigger:
        with self._read() as session:
            return _trigger(session, name)

    def list_triggers(self, *, workflow: str | None = None) -> list[Trigger]:
        """Every trigger (of ``workflow``, which must exist), by name."""
        with self._read() as session:
            stmt = _triggers().where(*_filters(session, workflow, None)).order_by(SqlTrigger.name)
            return _entities(session, stmt)

    def page_triggers(
        self,
        *,
        workflow: str | None = None,
        enabled: bool | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> list[Trigger]:
        """Triggers by name, those after ``cursor`` (a name)."""
        check_limit(limit)
        with self._read() as session:
            stmt = (
                _triggers()
                .where(*_filters(session, workflow, enabled))
                .order_by(SqlTrigger.name)
                .limit(limit)
            )
            if cursor is not None:
                stmt = stmt.where(SqlTrigger.name > cursor)
            return _entities(session, stmt)

    def count_triggers(self, *, workflow: str | None = None, enabled: bool | None = None) -> int:
        with self._read() as session:
            stmt = select(func.count(SqlTrigger.id)).where(*_filters(session, workflow, enabled))
            return session.scalar(stmt) or 0

    def update_trigger(
        self, name: str, change: TriggerUpdate, *, now: datetime | None = None
    ) -> Trigger:
        """Apply ``change`` (fields it sets; see ``TriggerUpdate``). A new schedule, or
        enabling a disabled trigger, restarts the trigger from ``now``."""
        now = now or utcnow()
        given = change.model_fields_set
        with self._write() as session:
            row = trigger_row(session, name, lock=True)
            restart = False
            if change.cron is not None or change.interval is not None:
                if row.kind is not TriggerKind.PERIODIC:
                    raise InvalidInput(
                        f"trigger '{name}' is an event rule: cron and interval are for "
                        "periodic triggers (delete it and create a periodic one)"
                    )
                row.cron, row.interval_seconds = change.cron, change.interval
                restart = True
            if "max_active" in given:
                row.max_active = change.max_active
            if change.enabled is not None and change.enabled != row.enabled:
                row.enabled = change.enabled
                restart = restart or change.enabled
            if restart:
                start_from(session, row, now)
            row.updated_at = now
            session.flush()
            return _trigger(session, name)

    def delete_trigger(self, name: str) -> Trigger:
        """Delete a trigger and return it as it was. Its executions keep its id, and its
        events stay in the log: why an execution exists remains on record."""
        with self._write() as session:
            trigger = _trigger(session, name)
            session.execute(delete(SqlTrigger).where(SqlTrigger.id == trigger.id))
            return trigger

    # -- what the scheduler asks --------------------------------------------------------------

    def get_event(self, seq: int) -> Event:
        """The event with ``seq`` (the one that fired a rule, say)."""
        with self._read() as session:
            row = session.get(SqlEvent, seq)
            if row is None:
                raise NotFound(f"event {seq} not found (see `aiflow event list`)")
            return row.to_entity()

    def due_triggers(self, now: datetime, *, limit: int = 100) -> list[Trigger]:
        """Enabled periodic triggers due at ``now``, longest overdue first."""
        check_limit(limit)
        with self._read() as session:
            stmt = (
                _triggers()
                .where(
                    SqlTrigger.enabled.is_(True),
                    SqlTrigger.kind == TriggerKind.PERIODIC,
                    SqlTrigger.next_fire_at <= now,
                )
                .order_by(SqlTrigger.next_fire_at, SqlTrigger.id)
                .limit(limit)
            )
            return _entities(session, stmt)

    def event_rules(self) -> list[Trigger]:
        """Enabled event rules, by id."""
        with self._read() as session:
            stmt = _triggers().where(
                SqlTrigger.enabled.is_(True), SqlTrigger.kind == TriggerKind.EVENT
            )
            return _entities(session, stmt.order_by(SqlTrigger.id))

    def run_to_repeat(self, trigger: Trigger) -> tuple[int, Execution | None]:
        """The version number ``trigger`` runs now (pinned, else the workflow's newest), and
        that version's newest execution in the trigger's mode (and engine, if set), whose jobs
        a fire copies; ``None`` if the version never ran so. Executions a workflow's rule
        started (one event-driven job each) are not runs of the workflow: never copied."""
        with self._read() as session:
            number = trigger.version
            if number is None:
                workflow = workflow_by_name(session, trigger.workflow_name)
                number = session.scalar(
                    select(func.max(SqlWorkflowVersion.version)).where(
                        SqlWorkflowVersion.workflow_id == workflow.id
                    )
                )
            if number is None:
                raise NotFound(f"workflow '{trigger.workflow_name}' has no versions")
            stmt = (
                select(SqlExecution)
                .join(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlExecution.workflow_version_id)
                .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
                .where(
                    SqlWorkflow.name == trigger.workflow_name,
                    SqlWorkflowVersion.version == number,
                    SqlExecution.mode == trigger.mode,
                    # not a run of one event-driven job: it is not the workflow's run
                    SqlExecution.trigger_id.not_in(_rule_ids()) | SqlExecution.trigger_id.is_(None),
                )
                .order_by(SqlExecution.id.desc())
                .limit(1)
            )
            if trigger.engine is not None:
                stmt = stmt.where(SqlExecution.engine == trigger.engine)
            row = session.scalar(stmt)
            return number, row.to_entity(trigger.workflow_name) if row else None

    def move_trigger_cursor(self, trigger_id: int, after_seq: int, to_seq: int) -> bool:
        """Move an event rule's cursor from ``after_seq`` past events that did not match it
        (compare-and-set, like a fire); False if the cursor was elsewhere."""
        stmt = (
            update(SqlTrigger)
            .where(SqlTrigger.id == trigger_id, SqlTrigger.event_cursor == after_seq)
            .values(event_cursor=to_seq)
            .execution_options(synchronize_session=False)
        )
        with self._write() as session:
            return rowcount(session.execute(stmt)) == 1

    def fire_trigger(self, fire: TriggerFire) -> Fire | None:
        """Record one fire: move the trigger's position, start the execution (or record why
        not), emit ``TRIGGER_FIRED`` / ``TRIGGER_SKIPPED`` / ``TRIGGER_FAILED`` on
        ``trigger/<name>``. ``None`` when the position was not what ``fire`` expected: another
        scheduler fired it first, or the trigger was changed, disabled or deleted meanwhile.

        Why compare-and-set rather than ``SELECT ... FOR UPDATE SKIP LOCKED``: the position
        update *is* the claim, in the transaction that records the execution, so the claim and
        its effect commit or roll back together, on every backend (SQLite has no row locks and
        no SKIP LOCKED). A racing scheduler's UPDATE waits for the winner's row lock, then
        re-checks its WHERE against the committed row (PostgreSQL read committed; MySQL
        updates read the latest version too), matches nothing and does nothing. Schedulers
        never hold a lock while they do anything slow: the jobs to copy are read before (a
        workflow's rule reads its one job from the trigger row it just claimed).
        """
        if fire.start is not None:
            check_execution(fire.start.mode, fire.start.jobs)
        stmt = update(SqlTrigger).where(
            SqlTrigger.id == fire.trigger_id, SqlTrigger.enabled.is_(True)
        )
        if fire.due_at is not None:
            stmt = stmt.where(SqlTrigger.next_fire_at == fire.due_at).values(
                next_fire_at=fire.next_fire_at
            )
        elif fire.event_seq is not None and fire.after_seq is not None:
            stmt = stmt.where(SqlTrigger.event_cursor == fire.after_seq).values(
                event_cursor=fire.event_seq
            )
        else:
            raise InvalidInput("a fire consumes either a due time or an event")
        stmt = stmt.values(last_fired_at=fire.fired_at)
        with self._write() as session:
            if rowcount(session.execute(stmt.execution_options(synchronize_session=False))) != 1:
                return None
            row = session.get_one(SqlTrigger, fire.trigger_id)
            if row.job is not None:  # a workflow's rule
                skip = _skip(session, fire, row.max_active)
                outcome, execution_id, reason, stopped = act_rule(session, fire, row, skip)
            else:
                outcome, execution_id, reason = _act(session, fire, row.max_active)
                stopped = []
            kind = f"TRIGGER_{outcome.upper()}"
            event = add_event(session, trigger_event_key(row.name), kind, reason)
            return Fire(
                trigger=row.name,
                outcome=outcome,
                execution_id=execution_id,
                reason=reason,
                seq=event.seq,
                created_at=event.created_at,
                stopped=stopped,
            )


def _act(
    session: Session, fire: TriggerFire, max_active: int | None
) -> tuple[FireOutcome, int | None, str]:
    """Start the fire's execution unless it cannot be or ``max_active`` says skip."""
    if fire.start is None:
        return FireOutcome.FAILED, None, f"{fire.reason}: {fire.error or 'nothing to start'}"
    skip = _skip(session, fire, max_active)
    if skip is not None:
        return FireOutcome.SKIPPED, None, skip
    start = fire.start
    execution = add_execution(
        session,
        start.workflow_version_id,
        start.mode,
        start.engine,
        start.deployer,
        start.jobs,
        trigger_id=fire.trigger_id,
        trigger_event_seq=fire.event_seq,
    )
    return FireOutcome.FIRED, execution.id, f"{fire.reason}: execution {execution.id}"


def _skip(session: Session, fire: TriggerFire, max_active: int | None) -> str | None:
    """Why the fire is skipped (``max_active`` executions still unfinished), or None."""
    if max_active is None:
        return None
    active = session.scalar(
        select(func.count(SqlExecution.id)).where(
            SqlExecution.trigger_id == fire.trigger_id, SqlExecution.status.in_(_UNFINISHED)
        )
    )
    if (active or 0) < max_active:
        return None
    return f"{fire.reason}: {active} of its executions unfinished (max_active={max_active})"


def trigger_row(session: Session, name: str, *, lock: bool = False) -> SqlTrigger:
    stmt = select(SqlTrigger).where(SqlTrigger.name == name)
    row = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if row is None:
        raise NotFound(f"trigger '{name}' not found (see `aiflow trigger list`)")
    return row


def _version_id(session: Session, workflow: SqlWorkflow, version: int) -> int:
    found = session.scalar(
        select(SqlWorkflowVersion.id).where(
            SqlWorkflowVersion.workflow_id == workflow.id, SqlWorkflowVersion.version == version
        )
    )
    if found is None:
        raise NotFound(
            f"workflow '{workflow.name}' version {version} not found "
            f"(see `aiflow workflow show {workflow.name}`)"
        )
    return found


def _rule_ids() -> Select[int]:
    return select(SqlTrigger.id).where(SqlTrigger.origin == WORKFLOW_ORIGIN)


def _triggers() -> Select[SqlTrigger, str, int]:
    """Triggers with their workflow's name and pinned version number, in one query."""
    return (
        select(SqlTrigger, SqlWorkflow.name, SqlWorkflowVersion.version)
        .join(SqlWorkflow, SqlWorkflow.id == SqlTrigger.workflow_id)
        .outerjoin(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlTrigger.workflow_version_id)
    )


def _entities(session: Session, stmt: Select[SqlTrigger, str, int]) -> list[Trigger]:
    return [row.to_entity(name, version) for row, name, version in session.execute(stmt)]


def _trigger(session: Session, name: str) -> Trigger:
    found = _entities(session, _triggers().where(SqlTrigger.name == name))
    if not found:
        raise NotFound(f"trigger '{name}' not found (see `aiflow trigger list`)")
    return found[0]


def _filters(
    session: Session, workflow: str | None, enabled: bool | None
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if workflow is not None:
        filters.append(SqlTrigger.workflow_id == workflow_by_name(session, workflow).id)
    if enabled is not None:
        filters.append(SqlTrigger.enabled.is_(enabled))
    return filters

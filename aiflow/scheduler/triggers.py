"""Firing triggers: periodic ones when they are due, event rules on each matching event.

**What a fire runs.** A new execution of the trigger's workflow version (pinned, else the
newest) with the jobs of that version's newest execution in the trigger's mode (and engine, if
the trigger names one): the rerun path (``rerun_jobs``). Job specs name the source snapshot
they run, so a fire re-plans nothing and imports no user code in the scheduler; the code that
runs is the code that ran. A version that never ran in that mode cannot be fired: the fire is
recorded as ``TRIGGER_FAILED`` saying so, and the trigger moves on to its next time.

**Missed fires.** A periodic trigger whose time passed while no scheduler ran fires *once*
when one runs again, then continues from now on its schedule (``aiflow.schemas.schedules``):
no backfill storm after a weekend of downtime.

**Event rules.** Events are read in seq order after the rule's durable cursor, filtered by
type (and key) in SQL and by the shell-style value pattern here. Each matching event fires
once: the fire moves the cursor to that event's seq in the transaction that records the
execution, so a restarted or second scheduler never fires it again. A rule never fires on its
own ``trigger/<name>`` events, which would loop. The execution records the event's seq, and
its jobs receive the event (``af.current_event()``). The service reads what is new once per
pass for all rules (``RuleWatch``): a rule is read on its own only when new events select it.

**A workflow's rules** (``af.action_on_*``; ``origin`` ``workflow``) are event rules too,
made when the workflow is submitted (``submit_workflow``). A fire runs the rule's one job of
the pinned version, built by the store from the trigger row (``aiflow.store._rules``), so
nothing is read or prepared here; ``restart`` and ``stop`` rules first stop that job's
unfinished executions. A job-status rule (``af.action_on_job_status``) only counts the
upstream job's events in executions of its own workflow (``_in_workflow``).

**Exactly once.** Every fire is a compare-and-set of the trigger's position in the store
(``TriggerStore.fire_trigger``); a scheduler that loses the race gets ``None`` and moves on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

from aiflow.errors import AiflowError, InvalidInput, NotFound
from aiflow.scheduler.submit import check_recorded_deploy_options, rerun_jobs
from aiflow.schemas.entities import WORKFLOW_ORIGIN
from aiflow.schemas.inputs import ExecutionStart, TriggerFire
from aiflow.schemas.schedules import next_fire

if TYPE_CHECKING:
    from aiflow.schemas.entities import Event, Fire, Trigger
    from aiflow.schemas.inputs import JobCreate, TriggerCreate
    from aiflow.store.sql_store import MetaStore

log = logging.getLogger("aiflow.scheduler")

DUE_BATCH: Final = 100  # periodic triggers fired per pass, longest overdue first
EVENT_BATCH: Final = 100  # events read per query
EVENT_PAGES: Final = 10  # pages per rule per pass, so one busy rule cannot starve the others
SCAN_BATCH: Final = 1000  # new events read per query when a pass looks for every rule at once
SCAN_PAGES: Final = 20  # at most this many; the rest waits for the next pass

Fired = tuple["Fire", float]  # a recorded fire and how late it was (s after due / the event)


def create_trigger(
    store: MetaStore, spec: TriggerCreate, *, now: datetime | None = None
) -> Trigger:
    """Create a trigger after checking what only the scheduler knows: the deployer name.
    (The store checks the workflow and version; the spec checked its own fields.)"""
    check_deployer(spec)
    return store.create_trigger(spec, now=now)


def check_deployer(spec: TriggerCreate) -> None:
    """``InvalidInput`` naming the installed deployers if ``spec`` names another one."""
    if spec.deployer is not None:
        from aiflow.deployers import get_deployer

        get_deployer(spec.deployer)


def fire_due(store: MetaStore, now: datetime) -> list[Fired]:
    """Fire every enabled periodic trigger due at ``now`` (once each, however overdue)."""
    fired: list[Fired] = []
    for trigger in store.due_triggers(now, limit=DUE_BATCH):
        due = trigger.next_fire_at
        assert due is not None  # due_triggers only returns scheduled ones
        following = next_fire(cron=trigger.cron, interval=trigger.interval, now=now, due=due)
        reason = f"due {due.isoformat()}"
        fire = _fire(store, trigger, now, reason, due_at=due, next_fire_at=following)
        if fire is not None:
            fired.append((fire, (now - due).total_seconds()))
    return fired


Selection = tuple[str | None, str | None]  # an event rule's (type, key): its query's filter


@dataclass
class RuleWatch:
    """What a scheduler learned about its event rules in earlier passes, so that a pass reads
    the events written since the previous one once, for every rule, instead of one query per
    rule: with 400 rules that was 0.3 s a pass on SQLite and 0.85 s on PostgreSQL, now ~30-50 ms
    (docs/benchmarks.md, "Meta store at scale"), plus one query per rule new events select.

    ``seen`` is the seq up to which every event was looked at (``None`` before the first
    pass). ``clear`` holds the rules known to have no event of their type and key (what their
    query selects) after their cursor up to ``seen``, with that selection and cursor. The claim
    stays true while the selection is the same and the cursor has not gone back (only
    ``set_workflow_rules`` moves one back, carrying another rule's); otherwise the rule is read
    afresh, as on the first pass. Events become visible in seq order (``add_event``), so none
    can appear later below ``seen``; on MySQL, where they may not, it is not used.
    """

    seen: int | None = None
    clear: dict[int, tuple[Selection, int]] = field(default_factory=dict)


def fire_events(store: MetaStore, now: datetime, watch: RuleWatch | None = None) -> list[Fired]:
    """Fire every enabled event rule once per matching event since its cursor. With a
    ``watch`` (the service keeps one), only the rules with new events of their type and key
    since the last pass, or not known to be caught up, are read."""
    rules = store.event_rules()
    if watch is None or not _in_seq_order(store):
        return [fired for rule in rules for fired in _follow(store, rule, now)[0]]
    seen, touched = _scan(store, watch.seen, rules)
    fired: list[Fired] = []
    clear: dict[int, tuple[Selection, int]] = {}
    for rule in rules:
        selection, cursor = (rule.event_type, rule.event_key), rule.event_cursor or 0
        known = watch.clear.get(rule.id)
        if (
            touched is not None
            and rule.id not in touched
            and known is not None
            and known[0] == selection
            and cursor >= known[1]
        ):
            clear[rule.id] = known  # nothing new for it: no query
            continue
        got, cursor, caught_up = _follow(store, rule, now)
        fired += got
        if caught_up:
            clear[rule.id] = (selection, cursor)
    watch.seen, watch.clear = seen, clear
    return fired


def _in_seq_order(store: MetaStore) -> bool:
    """Whether events become visible in seq order (``add_event``): on SQLite and PostgreSQL.
    Not on MySQL, where an event may commit after a later one: a pass there reads every rule
    from its own cursor, which still finds such an event while the rule has not moved past."""
    from aiflow.store import db

    return db.normalize_url(store.uri).get_backend_name() in ("sqlite", "postgresql")


def _scan(store: MetaStore, seen: int | None, rules: list[Trigger]) -> tuple[int, set[int] | None]:
    """The seq the new events were read up to, and the rules they select (``None`` on the
    first pass: every rule is read; only the head of the log is read then)."""
    if seen is None:
        newest = store.list_events(newest_first=True, limit=1)
        return (newest[0].seq if newest else 0), None
    selecting: dict[Selection, list[Trigger]] = defaultdict(list)
    for rule in rules:
        selecting[(rule.event_type, rule.event_key)].append(rule)
    touched: set[int] = set()
    for _ in range(SCAN_PAGES):
        events = store.list_events(after_seq=seen, limit=SCAN_BATCH)
        for event in events:
            for type, key in ((event.type, event.key), (event.type, None), (None, event.key)):
                for rule in selecting.get((type, key), ()):
                    if event.key != rule.event_log_key:  # its own events never fire it
                        touched.add(rule.id)
            for rule in selecting.get((None, None), ()):
                touched.add(rule.id)
        if events:
            seen = events[-1].seq
        if len(events) < SCAN_BATCH:
            break
    return seen, touched


def _follow(store: MetaStore, rule: Trigger, now: datetime) -> tuple[list[Fired], int, bool]:
    """Fire ``rule`` on its matching events after its cursor: the fires, where its cursor
    ended, and whether it read up to the head of the log (no page of its events was full and
    no other scheduler or change got in the way)."""
    fired: list[Fired] = []
    cursor = rule.event_cursor or 0
    workflows: dict[str, str | None] = {}  # execution/<id> -> its workflow, for this pass
    for _ in range(EVENT_PAGES):
        events = store.list_events(
            after_seq=cursor, key=rule.event_key, type=rule.event_type, limit=EVENT_BATCH
        )
        for event in events:
            if not matches(rule, event) or not _in_workflow(store, rule, event, workflows):
                continue
            value = event.value if len(event.value) <= 100 else event.value[:100] + "..."
            reason = f"event {event.seq} {event.type} {event.key} {value!r}"
            fire = _fire(store, rule, now, reason, after_seq=cursor, event_seq=event.seq)
            if fire is None:  # another scheduler is on this rule, or it changed: next pass
                return fired, cursor, False
            fired.append((fire, (now - event.created_at).total_seconds()))
            cursor = event.seq
        if events and events[-1].seq > cursor:  # non-matching tail: don't read it again
            if not store.move_trigger_cursor(rule.id, cursor, events[-1].seq):
                return fired, cursor, False
            cursor = events[-1].seq
        if len(events) < EVENT_BATCH:
            return fired, cursor, True
    return fired, cursor, False


def matches(rule: Trigger, event: Event) -> bool:
    """Whether ``event`` fires ``rule`` (type and key are already filtered in SQL)."""
    if event.key == rule.event_log_key:
        return False  # its own fire, skip or failure: firing on it would loop
    return rule.event_value is None or fnmatchcase(event.value, rule.event_value)


def _job_status_rule(rule: Trigger) -> bool:
    """Whether ``rule`` is a workflow's ``af.action_on_job_status`` rule: ``JOB_<STATUS>``
    events, no key (they are keyed ``execution/<id>``), the upstream job as the value."""
    return (
        rule.origin == WORKFLOW_ORIGIN
        and rule.event_key is None
        and (rule.event_type or "").startswith("JOB_")
    )


def _in_workflow(
    store: MetaStore, rule: Trigger, event: Event, workflows: dict[str, str | None]
) -> bool:
    """A job-status rule fires on its upstream job in executions of its own workflow only
    (another workflow may have a job of the same name); other rules on any event."""
    if not _job_status_rule(rule):
        return True
    if event.key not in workflows:
        prefix, _, number = event.key.partition("/")
        name = None
        if prefix == "execution" and number.isdigit():
            try:
                name = store.get_execution(int(number)).workflow_name
            except NotFound:  # its history was deleted: not one of ours any more
                name = None
        workflows[event.key] = name
    return workflows[event.key] == rule.workflow_name


def _fire(
    store: MetaStore, trigger: Trigger, now: datetime, reason: str, **position: Any
) -> Fire | None:
    """Fire ``trigger`` once, consuming ``position`` (a due time or an event; see
    ``TriggerFire``); ``None`` if another scheduler consumed it first."""
    start, error = _prepare(store, trigger)
    fire = store.fire_trigger(
        TriggerFire(
            trigger_id=trigger.id,
            fired_at=now,
            reason=reason,
            start=start,
            error=error,
            **position,
        )
    )
    if fire is not None:
        level = logging.INFO if fire.outcome.value == "fired" else logging.WARNING
        log.log(level, "trigger %s %s: %s", fire.trigger, fire.outcome.value, fire.reason)
    return fire


def _prepare(store: MetaStore, trigger: Trigger) -> tuple[ExecutionStart | None, str | None]:
    """What a fire of ``trigger`` starts, or why nothing can be started. (An unusable meta
    store is not a reason: that raises, and the pass is retried.) Nothing for a workflow's
    rule: the store builds its execution from the trigger row."""
    if trigger.job is not None:
        return None, None
    try:
        number, template = store.run_to_repeat(trigger)
        jobs = rerun_jobs(store, template.id) if template is not None else []
    except (NotFound, InvalidInput) as exc:  # e.g. the run to repeat was deleted meanwhile
        return None, exc.message
    if template is None:
        on = f" on engine '{trigger.engine}'" if trigger.engine else ""
        return None, (
            f"workflow '{trigger.workflow_name}' version {number} has no {trigger.mode} "
            f"execution{on} to repeat: run that version once (`aiflow run FILE --mode "
            f"{trigger.mode}`), then its trigger can start it again"
        )
    deployer = trigger.deployer or template.deployer
    refused = _refused_deploy_options(deployer, jobs)
    if refused is not None:
        return None, refused
    start = ExecutionStart(
        workflow_version_id=template.workflow_version_id,
        mode=template.mode,
        engine=template.engine,
        deployer=deployer,
        jobs=jobs,
    )
    return start, None


def _refused_deploy_options(deployer: str, jobs: list[JobCreate]) -> str | None:
    """Why ``deployer`` refuses the nodes' ``deploy=`` options, if it does: a trigger may
    name another deployer than the run it repeats, whose options were checked for its own."""
    from aiflow.deployers import get_deployer

    try:
        check_recorded_deploy_options(get_deployer(deployer), jobs)
    except AiflowError as exc:
        return exc.message
    return None

"""Contract tests of the trigger store, on SQLite, PostgreSQL and MariaDB (the ``store``
fixture): create/list/update/delete, and the compare-and-set fire that records an execution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiflow.errors import AlreadyExists, InvalidInput, NotFound
from aiflow.schemas.entities import (
    Execution,
    ExecutionStatus,
    FireOutcome,
    Trigger,
    TriggerKind,
    WorkflowVersion,
)
from aiflow.schemas.inputs import (
    ExecutionStart,
    JobCreate,
    TriggerCreate,
    TriggerFire,
    TriggerUpdate,
    validated,
)
from aiflow.store.sql_store import MetaStore
from tests.server import seed

T0 = datetime(2030, 1, 1, 10, 17, 30, tzinfo=UTC)  # a Tuesday


def versions(store: MetaStore, name: str = "wf", count: int = 1) -> list[WorkflowVersion]:
    return seed.workflow(store, name, versions=count)


def start(version: WorkflowVersion) -> ExecutionStart:
    jobs = [JobCreate(name="a", engine="local", spec={"name": "a"})]
    return ExecutionStart(
        workflow_version_id=version.id, mode="batch", engine="local", deployer="local", jobs=jobs
    )


def fire_due(
    store: MetaStore, trigger: Trigger, start: ExecutionStart | None, **fields: object
) -> TriggerFire:
    """The periodic fire of ``trigger``'s current due time."""
    assert trigger.next_fire_at is not None
    values: dict[str, object] = {
        "trigger_id": trigger.id,
        "fired_at": trigger.next_fire_at,
        "reason": "due",
        "due_at": trigger.next_fire_at,
        "next_fire_at": trigger.next_fire_at + timedelta(hours=1),
        "start": start,
        "error": None if start else "no run to repeat",
        **fields,
    }
    return TriggerFire.model_validate(values)


# -- what users manage --------------------------------------------------------------------------


def test_periodic_trigger_is_scheduled_from_now(store: MetaStore) -> None:
    versions(store)
    hourly = store.create_trigger(
        TriggerCreate(name="hourly", workflow="wf", cron="0  * * * *", max_active=2), now=T0
    )
    assert hourly.kind is TriggerKind.PERIODIC and hourly.cron == "0 * * * *"
    assert hourly.workflow_name == "wf" and hourly.version is None and hourly.enabled
    assert hourly.next_fire_at == datetime(2030, 1, 1, 11, tzinfo=UTC)
    assert hourly.event_cursor is None and hourly.last_fired_at is None
    assert hourly.created_at == T0 and hourly.max_active == 2

    every = store.create_trigger(TriggerCreate(name="every", workflow="wf", interval=90), now=T0)
    assert every.next_fire_at == T0 + timedelta(seconds=90) and every.interval == 90
    assert store.get_trigger("every") == every


def test_event_rule_starts_at_the_head_of_the_event_log(store: MetaStore) -> None:
    versions(store)
    store.emit_event("m", "MODEL_GENERATED", "1")
    head = store.list_events()[-1].seq
    rule = store.create_trigger(
        TriggerCreate(
            name="on-model", workflow="wf", event_type="MODEL_GENERATED", event_key="m", version=1
        )
    )
    assert rule.kind is TriggerKind.EVENT and rule.event_cursor == head
    assert rule.next_fire_at is None and rule.version == 1


def test_create_rejects_unknown_workflows_versions_and_duplicates(store: MetaStore) -> None:
    versions(store)
    with pytest.raises(NotFound, match="workflow 'nope' not found"):
        store.create_trigger(TriggerCreate(name="t", workflow="nope", interval=60))
    with pytest.raises(NotFound, match="workflow 'wf' version 7 not found"):
        store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60, version=7))
    store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60))
    with pytest.raises(AlreadyExists, match="trigger 't' already exists"):
        store.create_trigger(TriggerCreate(name="t", workflow="wf", cron="* * * * *"))
    assert [t.name for t in store.list_triggers()] == ["t"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cron": "61 * * * *"}, "cron: cron expression '61 * * * *' is invalid: Bad minute"),
        ({"cron": "0 2 * *"}, "cron expression '0 2 * *' has 4 fields; it needs 5"),
        ({}, "give exactly one of cron, interval"),
        ({"cron": "* * * * *", "event_type": "X"}, "got cron, event_type"),
        ({"interval": 0.5}, "interval 0.5: Input should be greater than or equal to 1"),
        ({"interval": 60, "event_key": "m"}, "event_key and event_value only go with event_type"),
        ({"interval": 60, "name": "a b"}, "name 'a b': String should match pattern"),
        ({"interval": 60, "mode": "fast"}, "mode 'fast': Input should be 'batch' or 'stream'"),
        ({"interval": 60, "max_active": 0}, "max_active 0"),
    ],
)
def test_bad_specs_name_the_field_and_value(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match="invalid trigger: ") as raised:
        validated(TriggerCreate, "trigger", **{"name": "t", "workflow": "wf", **fields})
    assert message in str(raised.value)


def test_list_page_count_and_filter(store: MetaStore) -> None:
    versions(store, "a")
    versions(store, "b")
    for name, workflow in [("t3", "a"), ("t1", "b"), ("t2", "a")]:
        store.create_trigger(TriggerCreate(name=name, workflow=workflow, interval=60))
    store.update_trigger("t2", TriggerUpdate(enabled=False))
    assert [t.name for t in store.list_triggers()] == ["t1", "t2", "t3"]
    assert [t.name for t in store.list_triggers(workflow="a")] == ["t2", "t3"]
    assert [t.name for t in store.page_triggers(limit=2)] == ["t1", "t2"]
    assert [t.name for t in store.page_triggers(cursor="t2")] == ["t3"]
    assert [t.name for t in store.page_triggers(enabled=True)] == ["t1", "t3"]
    assert store.count_triggers() == 3 and store.count_triggers(workflow="a", enabled=False) == 1
    with pytest.raises(NotFound, match="workflow 'c' not found"):
        store.list_triggers(workflow="c")


def test_update_reschedules_and_enabling_restarts_from_now(store: MetaStore) -> None:
    versions(store)
    store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60), now=T0)
    later = T0 + timedelta(hours=5)
    daily = store.update_trigger("t", TriggerUpdate(cron="0 2 * * *"), now=later)
    assert (daily.cron, daily.interval) == ("0 2 * * *", None)
    assert daily.next_fire_at == datetime(2030, 1, 2, 2, tzinfo=UTC) and daily.updated_at == later

    off = store.update_trigger("t", TriggerUpdate(enabled=False, max_active=3), now=later)
    assert not off.enabled and off.max_active == 3 and off.next_fire_at == daily.next_fire_at
    on = store.update_trigger("t", TriggerUpdate(enabled=True), now=T0 + timedelta(days=3))
    assert on.next_fire_at == datetime(2030, 1, 5, 2, tzinfo=UTC)  # not the missed days
    unlimited = store.update_trigger("t", TriggerUpdate.model_validate({"max_active": None}))
    assert unlimited.max_active is None and unlimited.next_fire_at == on.next_fire_at

    store.create_trigger(TriggerCreate(name="rule", workflow="wf", event_type="X"))
    with pytest.raises(InvalidInput, match="'rule' is an event rule"):
        store.update_trigger("rule", TriggerUpdate(interval=60))
    with pytest.raises(NotFound, match="trigger 'nope' not found"):
        store.update_trigger("nope", TriggerUpdate(enabled=False))


def test_reenabled_event_rule_ignores_events_of_the_time_it_was_off(store: MetaStore) -> None:
    versions(store)
    store.create_trigger(TriggerCreate(name="rule", workflow="wf", event_type="X"))
    store.update_trigger("rule", TriggerUpdate(enabled=False))
    store.emit_event("k", "X")
    assert store.update_trigger("rule", TriggerUpdate(enabled=True)).event_cursor == (
        store.list_events()[-1].seq
    )


# -- firing -------------------------------------------------------------------------------------


def test_a_fire_records_an_execution_and_an_event_once(store: MetaStore) -> None:
    version = versions(store)[0]
    trigger = store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60), now=T0)
    fire = store.fire_trigger(fire_due(store, trigger, start(version)))
    assert fire is not None and fire.outcome is FireOutcome.FIRED and fire.trigger == "t"
    assert fire.execution_id is not None
    execution = store.get_execution(fire.execution_id)
    assert execution.trigger_id == trigger.id and execution.status is ExecutionStatus.QUEUED
    assert [job.name for job in store.list_jobs(execution.id)] == ["a"]
    event = store.list_events(key="trigger/t")[-1]
    assert (event.seq, event.type) == (fire.seq, "TRIGGER_FIRED")
    assert event.value == f"due: execution {execution.id}"
    moved = store.get_trigger("t")
    assert moved.next_fire_at == trigger.next_fire_at + timedelta(hours=1)  # type: ignore[operator]
    assert moved.last_fired_at == trigger.next_fire_at

    assert store.fire_trigger(fire_due(store, trigger, start(version))) is None  # consumed
    assert [e.id for e in store.page_executions(trigger="t")] == [execution.id]
    assert store.count_executions(trigger="t") == 1


def test_disabled_or_deleted_triggers_do_not_fire(store: MetaStore) -> None:
    version = versions(store)[0]
    trigger = store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60))
    store.update_trigger("t", TriggerUpdate(enabled=False))
    assert store.fire_trigger(fire_due(store, trigger, start(version))) is None
    store.update_trigger("t", TriggerUpdate(enabled=True))
    fire = store.fire_trigger(fire_due(store, store.get_trigger("t"), start(version)))
    assert fire is not None

    deleted = store.delete_trigger("t")
    assert deleted.name == "t"
    with pytest.raises(NotFound, match="trigger 't' not found"):
        store.get_trigger("t")
    assert store.get_execution(fire.execution_id or 0).trigger_id == trigger.id  # history stays
    assert store.fire_trigger(fire_due(store, trigger, start(version))) is None
    recreated = store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60))
    assert recreated.id != trigger.id  # ids are never reused: old executions name the old one


def test_max_active_skips_and_records_why(store: MetaStore) -> None:
    version = versions(store)[0]
    spec = TriggerCreate(name="t", workflow="wf", interval=60, max_active=1)
    store.create_trigger(spec)
    first = store.fire_trigger(fire_due(store, store.get_trigger("t"), start(version)))
    skipped = store.fire_trigger(fire_due(store, store.get_trigger("t"), start(version)))
    assert first is not None and skipped is not None
    assert skipped.outcome is FireOutcome.SKIPPED and skipped.execution_id is None
    assert "1 of its executions unfinished (max_active=1)" in skipped.reason
    assert store.list_events(key="trigger/t")[-1].type == "TRIGGER_SKIPPED"

    store.transition_execution(first.execution_id or 0, ExecutionStatus.SUCCEEDED)
    again = store.fire_trigger(fire_due(store, store.get_trigger("t"), start(version)))
    assert again is not None and again.outcome is FireOutcome.FIRED


def test_a_fire_that_cannot_start_anything_is_recorded_and_moves_on(store: MetaStore) -> None:
    versions(store)
    trigger = store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60))
    failed = store.fire_trigger(fire_due(store, trigger, None))
    assert failed is not None and failed.outcome is FireOutcome.FAILED
    assert failed.reason == "due: no run to repeat" and failed.execution_id is None
    assert store.list_events(key="trigger/t")[-1].type == "TRIGGER_FAILED"
    assert store.get_trigger("t").next_fire_at != trigger.next_fire_at
    assert store.count_executions() == 0


def test_event_cursor_is_compare_and_set(store: MetaStore) -> None:
    version = versions(store)[0]
    rule = store.create_trigger(TriggerCreate(name="r", workflow="wf", event_type="X"))
    base = rule.event_cursor or 0
    seq = store.emit_event("k", "X").seq

    def fire(after: int) -> TriggerFire:
        return TriggerFire(
            trigger_id=rule.id,
            fired_at=T0,
            reason=f"event {seq}",
            after_seq=after,
            event_seq=seq,
            start=start(version),
        )

    assert store.fire_trigger(fire(base)) is not None
    assert store.get_trigger("r").event_cursor == seq
    assert store.fire_trigger(fire(base)) is None  # the same event, from a stale cursor
    assert store.move_trigger_cursor(rule.id, seq, seq + 5)
    assert not store.move_trigger_cursor(rule.id, seq, seq + 9)
    assert store.get_trigger("r").event_cursor == seq + 5


def test_a_failing_execution_insert_rolls_the_fire_back(store: MetaStore) -> None:
    version = versions(store)[0]
    trigger = store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60))
    gone = start(version).model_copy(update={"workflow_version_id": 987654})
    with pytest.raises(NotFound, match="workflow version 987654"):
        store.fire_trigger(fire_due(store, trigger, gone))
    assert store.get_trigger("t").next_fire_at == trigger.next_fire_at  # still due
    assert store.list_events(key="trigger/t") == []


def test_run_to_repeat_is_the_newest_run_of_the_version_in_the_mode(store: MetaStore) -> None:
    old, new = versions(store, count=2)
    seed.execution(store, old)
    newest_batch: Execution = seed.execution(store, new)
    seed.execution(store, new, mode="stream")
    trigger = store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60))
    assert store.run_to_repeat(trigger) == (2, newest_batch)
    pinned = store.create_trigger(TriggerCreate(name="p", workflow="wf", interval=60, version=1))
    number, run = store.run_to_repeat(pinned)
    assert number == 1 and run is not None and run.workflow_version_id == old.id
    on_flink = TriggerCreate(name="f", workflow="wf", interval=60, engine="flink")
    assert store.run_to_repeat(store.create_trigger(on_flink)) == (2, None)

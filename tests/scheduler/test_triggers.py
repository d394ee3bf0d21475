"""The scheduler service fires triggers: periodic ones at their times (an injected clock, no
sleeping), once after downtime, event rules once per matching event even across restarts.

Drivers are not started here (``start_driver`` records the ids instead): what is under test is
which executions the fires record; ``test_trigger_e2e.py`` runs one for real.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from aiflow.deployers import get_deployer
from aiflow.errors import InvalidInput
from aiflow.scheduler.service import SchedulerService
from aiflow.scheduler.triggers import create_trigger
from aiflow.schemas.entities import ExecutionStatus
from aiflow.schemas.inputs import TriggerCreate, TriggerUpdate
from aiflow.store.sql_store import MetaStore
from tests.server import seed

T0 = datetime(2030, 1, 1, 10, 17, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store() -> MetaStore:
    """The test's own SQLite store, with workflow ``wf`` and one batch run of it to repeat."""
    store = MetaStore()
    seed.execution(store, seed.workflow(store, "wf")[0])
    return store


def service(store: MetaStore, clock: Clock, started: list[int] | None = None) -> SchedulerService:
    record = started if started is not None else []
    return SchedulerService(
        store, get_deployer, clock=clock, start_driver=lambda id, **_: record.append(id)
    )


def fired_at(store: MetaStore, name: str) -> list[str]:
    """The values of the trigger's TRIGGER_FIRED events, oldest first."""
    return [e.value for e in store.list_events(key=f"trigger/{name}", type="TRIGGER_FIRED")]


def test_cron_trigger_fires_at_its_times(store: MetaStore) -> None:
    store.create_trigger(TriggerCreate(name="t", workflow="wf", cron="*/15 * * * *"), now=T0)
    clock, started = Clock(T0), []
    scheduler = service(store, clock, started)
    expected = [
        datetime(2030, 1, 1, 10, 30, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(4)
    ]
    for due in expected:
        clock.now = due - timedelta(seconds=1)
        assert scheduler.tick() == []  # not yet
        clock.now = due
        assert len(scheduler.tick()) == 1
        assert scheduler.tick() == []  # once
        assert store.get_trigger("t").next_fire_at == due + timedelta(minutes=15)
    assert fired_at(store, "t") == [
        f"due {due.isoformat()}: execution {id}" for due, id in zip(expected, started, strict=True)
    ]
    runs = [store.get_execution(id) for id in started]
    assert {(e.trigger_id, e.workflow_name, e.mode, e.status) for e in runs} == {
        (store.get_trigger("t").id, "wf", "batch", ExecutionStatus.QUEUED)
    }
    assert [j.name for j in store.list_jobs(started[0])] == ["a", "b"]  # the repeated run's jobs


def test_missed_fires_fire_once_then_continue_from_now(store: MetaStore) -> None:
    store.create_trigger(TriggerCreate(name="cron", workflow="wf", cron="0 * * * *"), now=T0)
    store.create_trigger(TriggerCreate(name="every", workflow="wf", interval=600), now=T0)
    clock = Clock(T0 + timedelta(hours=10, minutes=5))  # the scheduler was down for 10 hours
    scheduler = service(store, clock)
    assert len(scheduler.tick()) == 2  # one fire each, not ten and sixty
    assert scheduler.tick() == []
    assert len(fired_at(store, "cron")) == len(fired_at(store, "every")) == 1
    assert store.get_trigger("cron").next_fire_at == datetime(2030, 1, 1, 21, tzinfo=UTC)
    # intervals keep their phase: T0 + k * 600s, the first one after now
    assert store.get_trigger("every").next_fire_at == T0 + timedelta(hours=10, minutes=10)


def test_max_active_skips_while_executions_run(store: MetaStore) -> None:
    spec = TriggerCreate(name="t", workflow="wf", interval=60, max_active=1)
    store.create_trigger(spec, now=T0)
    clock, started = Clock(T0 + timedelta(seconds=60)), []
    scheduler = service(store, clock, started)
    scheduler.tick()
    clock.now += timedelta(seconds=60)
    assert scheduler.tick() == []  # the first is still queued
    skipped = store.list_events(key="trigger/t")[-1]
    assert skipped.type == "TRIGGER_SKIPPED" and "max_active=1" in skipped.value
    store.transition_execution(started[0], ExecutionStatus.FAILED)
    clock.now += timedelta(seconds=60)
    assert len(scheduler.tick()) == 1


def test_a_version_that_never_ran_in_the_mode_fails_the_fire_and_says_why(
    store: MetaStore,
) -> None:
    spec = TriggerCreate(name="t", workflow="wf", interval=60, mode="stream")
    store.create_trigger(spec, now=T0)
    scheduler = service(store, Clock(T0 + timedelta(minutes=1)))
    assert scheduler.tick() == []
    failed = store.list_events(key="trigger/t")[-1]
    assert failed.type == "TRIGGER_FAILED"
    assert "workflow 'wf' version 1 has no stream execution to repeat" in failed.value
    assert store.get_trigger("t").next_fire_at == T0 + timedelta(minutes=2)  # moved on


def test_event_rule_fires_once_per_matching_event(store: MetaStore) -> None:
    rule = TriggerCreate(
        name="validate",
        workflow="wf",
        event_type="MODEL_GENERATED",
        event_key="wine",
        deployer="local",
    )
    create_trigger(store, rule)
    store.create_trigger(  # matches every alias move of 'wine' to 'deployed'
        TriggerCreate(
            name="on-deploy",
            workflow="wf",
            event_type="MODEL_ALIAS_SET",
            event_key="wine",
            event_value="deployed=*",
        )
    )
    started: list[int] = []
    scheduler = service(store, Clock(T0), started)
    assert scheduler.tick() == []

    store.register_model_version("wine", "/a/1", "sklearn")  # MODEL_GENERATED wine 1
    store.register_model_version("other", "/b/1", "sklearn")  # another key: no fire
    store.emit_event("wine", "MODEL_PROMOTED", "1")  # another type: no fire
    store.register_model_version("wine", "/a/2", "sklearn")
    store.set_model_alias("wine", "champion", 1)  # another alias: no fire
    store.set_model_alias("wine", "deployed", 2)
    assert len(scheduler.tick()) == 3
    assert scheduler.tick() == []
    assert [v.split(":")[0] for v in fired_at(store, "validate")] == [
        f"event {seq} MODEL_GENERATED wine '{version}'"
        for seq, version in (
            (e.seq, e.value) for e in store.list_events(key="wine", type="MODEL_GENERATED")
        )
    ]
    assert len(fired_at(store, "on-deploy")) == 1

    # a new scheduler (a restart) finds the cursors in the store: nothing fires again
    assert service(store, Clock(T0)).tick() == []
    store.register_model_version("wine", "/a/3", "sklearn")
    assert len(service(store, Clock(T0)).tick()) == 1
    assert len(fired_at(store, "validate")) == 3


def test_a_rule_never_fires_on_its_own_events(store: MetaStore) -> None:
    store.create_trigger(TriggerCreate(name="loop", workflow="wf", event_type="TRIGGER_FIRED"))
    store.create_trigger(TriggerCreate(name="chained", workflow="wf", event_type="X"))
    scheduler = service(store, Clock(T0))
    store.emit_event("k", "X")
    assert len(scheduler.tick()) == 1  # 'chained' fires on X...
    assert len(scheduler.tick()) == 1  # ...'loop' on chained's TRIGGER_FIRED...
    assert scheduler.tick() == []  # ...but not on its own


def test_disabled_triggers_do_not_fire(store: MetaStore) -> None:
    store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60), now=T0)
    store.create_trigger(TriggerCreate(name="r", workflow="wf", event_type="X"))
    store.update_trigger("t", TriggerUpdate(enabled=False))
    store.update_trigger("r", TriggerUpdate(enabled=False))
    store.emit_event("k", "X")
    assert service(store, Clock(T0 + timedelta(days=1))).tick() == []


def test_create_checks_the_deployer(store: MetaStore) -> None:
    spec = TriggerCreate(name="t", workflow="wf", interval=60, deployer="nowhere")
    with pytest.raises(InvalidInput, match="unknown deployer 'nowhere'"):
        create_trigger(store, spec)
    assert store.list_triggers() == []


def test_loop_delay_and_fires_are_measured(store: MetaStore) -> None:
    store.create_trigger(TriggerCreate(name="t", workflow="wf", interval=60), now=T0)
    registry = CollectorRegistry()
    scheduler = SchedulerService(
        store,
        get_deployer,
        interval=0.05,
        clock=lambda: T0 + timedelta(seconds=90),  # fires 30 s after it was due
        start_driver=lambda *_, **__: None,
        registry=registry,
    )
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while (registry.get_sample_value("aiflow_scheduler_loop_delay_seconds_count") or 0) < 3:
            assert datetime.now(UTC) < deadline, "the scheduler loop did not run"
            threading.Event().wait(0.02)
    finally:
        scheduler.stop()
        thread.join(10)
    assert registry.get_sample_value("aiflow_trigger_fires_total", {"outcome": "fired"}) == 1
    assert registry.get_sample_value("aiflow_trigger_fire_delay_seconds_sum") == 30
    assert registry.get_sample_value("aiflow_scheduler_loop_delay_seconds_sum") is not None

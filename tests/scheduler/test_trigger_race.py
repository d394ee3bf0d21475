"""Schedulers racing on one PostgreSQL meta store fire each due trigger, and each matching
event of an event rule, exactly once: the fire is a compare-and-set of the trigger's position
in the transaction that records the execution."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from aiflow.deployers import get_deployer
from aiflow.scheduler.service import SchedulerService
from aiflow.schemas.inputs import TriggerCreate
from aiflow.store.sql_store import MetaStore
from tests.server import seed

pytestmark = pytest.mark.postgres

T0 = datetime(2030, 1, 1, tzinfo=UTC)
TRIGGERS = 20
EVENTS = 15
SCHEDULERS = 3
ROUNDS = 3


def test_racing_schedulers_fire_each_trigger_once(migrated_postgres_url: str) -> None:
    store = MetaStore(migrated_postgres_url)
    seed.execution(store, seed.workflow(store, "wf")[0])
    for i in range(TRIGGERS):
        store.create_trigger(TriggerCreate(name=f"t{i}", workflow="wf", interval=60), now=T0)
    store.create_trigger(TriggerCreate(name="rule", workflow="wf", event_type="TICK"))

    now = [T0]
    started: list[int] = []
    services = [
        SchedulerService(
            MetaStore(migrated_postgres_url),
            get_deployer,
            clock=lambda: now[0],
            start_driver=lambda id, **_: started.append(id),
        )
        for _ in range(SCHEDULERS)
    ]
    barrier = threading.Barrier(SCHEDULERS)
    errors: list[BaseException] = []

    def race(service: SchedulerService) -> None:
        try:
            barrier.wait(30)
            service.fire_triggers()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    for round in range(1, ROUNDS + 1):
        now[0] = T0 + timedelta(seconds=60 * round)
        for e in range(EVENTS):
            store.emit_event(f"k{round}-{e}", "TICK")
        threads = [threading.Thread(target=race, args=(s,)) for s in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors

        fired = store.list_events(type="TRIGGER_FIRED", limit=10_000)
        per_trigger = Counter(e.key for e in fired)
        assert per_trigger == {
            **{f"trigger/t{i}": round for i in range(TRIGGERS)},
            "trigger/rule": EVENTS * round,
        }
        assert len(started) == len(set(started)) == (TRIGGERS + EVENTS) * round
        # every fire recorded exactly one execution, and each event fired the rule once
        assert store.count_executions() == 1 + (TRIGGERS + EVENTS) * round
        assert len({e.value.split(":")[0] for e in fired if e.key == "trigger/rule"}) == (
            EVENTS * round
        )
    assert store.list_events(type="TRIGGER_SKIPPED") == []
    assert store.list_events(type="TRIGGER_FAILED") == []

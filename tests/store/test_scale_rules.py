"""The scheduler's pass with many event rules (``RuleWatch``): the events written since the
last pass are read once for all rules, and a rule is read on its own only when they select it,
yet every matching event still fires its rule exactly once, across passes, schedulers without
the watch, rule changes and new rules.

On every backend of the store fixture: SQLite, PostgreSQL, MariaDB.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiflow.deployers import get_deployer
from aiflow.scheduler.service import SchedulerService
from aiflow.scheduler.triggers import fire_events
from aiflow.schemas.inputs import JobCreate, RuleCreate, TriggerCreate
from aiflow.store import db
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.store.conftest import StatementCounter

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def scheduler(store: MetaStore) -> SchedulerService:
    return SchedulerService(
        store, get_deployer, clock=lambda: NOW, start_driver=lambda *_a, **_k: None
    )


def fires(store: MetaStore, name: str) -> list[str]:
    """The events that fired trigger ``name``, oldest first: "<type> <key> <value>"."""
    fired = store.list_events(key=f"trigger/{name}", limit=1000)
    return [e.value.split(":")[0].split(" ", 2)[-1] for e in fired if e.type != "TRIGGER_SKIPPED"]


def rule(store: MetaStore, name: str, workflow: str, type: str, key: str | None) -> None:
    store.create_trigger(
        TriggerCreate(name=name, workflow=workflow, event_type=type, event_key=key)
    )


def test_each_matching_event_fires_its_rule_once_across_passes(store: MetaStore) -> None:
    workflow = seed.workflow(store)[0].workflow_name
    rule(store, "on-a", workflow, "ready", "a")
    rule(store, "on-any", workflow, "ready", None)
    rule(store, "on-b", workflow, "other", "b")
    service = scheduler(store)
    service.fire_triggers()  # first pass: reads every rule, learns they are caught up

    store.emit_event("a", "ready", "1")
    store.emit_event("b", "ready", "2")  # on-any only: on-b selects another type
    service.fire_triggers()
    rule(store, "late", workflow, "ready", "a")  # starts from now: only later events
    store.emit_event("a", "ready", "3")
    service.fire_triggers()
    service.fire_triggers()  # nothing new: nothing fires again

    assert fires(store, "on-a") == ["ready a '1'", "ready a '3'"]
    assert fires(store, "on-any") == ["ready a '1'", "ready b '2'", "ready a '3'"]
    assert fires(store, "on-b") == []
    assert fires(store, "late") == ["ready a '3'"]


def test_a_scheduler_without_the_watch_in_between_fires_nothing_twice(store: MetaStore) -> None:
    workflow = seed.workflow(store)[0].workflow_name
    rule(store, "on-a", workflow, "ready", "a")
    service = scheduler(store)
    service.fire_triggers()
    store.emit_event("a", "ready", "1")
    fire_events(store, NOW)  # another scheduler fires it first
    store.emit_event("a", "ready", "2")
    service.fire_triggers()
    service.fire_triggers()
    assert fires(store, "on-a") == ["ready a '1'", "ready a '2'"]


def test_a_rule_whose_selection_changes_is_read_afresh(store: MetaStore) -> None:
    """A workflow's rule moved to other events, with a cursor carried from before, is read from
    that cursor, not trusted to be caught up."""
    version = seed.workflow(store)[0]
    job = JobCreate(name="retrain", engine="local", spec={"name": "retrain"})

    def rules(key: str) -> list[RuleCreate]:
        return [
            RuleCreate(
                name="retrain-on",
                job=job,
                event_type="MODEL_GENERATED",
                event_key=key,
                mode="batch",
                engine="local",
                deployer="local",
            )
        ]

    store.set_workflow_rules(version.id, rules("m1"), now=NOW)
    service = scheduler(store)
    service.fire_triggers()
    store.emit_event("m2", "MODEL_GENERATED", "1")
    service.fire_triggers()  # not its key yet
    store.set_workflow_rules(version.id, rules("m2"), now=NOW)  # from the head: misses m2 1
    store.emit_event("m2", "MODEL_GENERATED", "2")
    service.fire_triggers()
    assert fires(store, "retrain-on") == ["MODEL_GENERATED m2 '2'"]


def test_an_idle_pass_costs_the_same_few_statements_with_many_rules(
    store: MetaStore, sql_statements: StatementCounter
) -> None:
    """No query per rule: with 4 or 40 rules, a pass with nothing new (and one with new events
    no rule selects) sends the same statements. Not on MySQL, where a pass reads each rule
    (events may become visible out of seq order there)."""
    if db.normalize_url(store.uri).get_backend_name() in ("mysql", "mariadb"):
        pytest.skip("MySQL: each rule is read every pass (RuleWatch needs a feed in seq order)")
    workflow = seed.workflow(store)[0].workflow_name
    counts = []
    for total in (4, 40):
        for n in range(total - len(store.event_rules())):
            rule(store, f"r{total}-{n}", workflow, "ready", f"key-{n}")
        service = scheduler(store)
        service.fire_triggers()
        with sql_statements() as idle:
            service.fire_triggers()
        store.emit_event("noise", "noise", "x")
        with sql_statements() as noisy:
            service.fire_triggers()
        counts.append((len(idle), len(noisy)))
    assert counts[0] == counts[1], counts

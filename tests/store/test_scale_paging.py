"""Lists that stay fast on a big store: keyset pages see every row exactly once while rows are
inserted, the indexes the list queries and the scheduler's rule reads need exist after the
migrations, and a list costs the same few statements whatever its page size (no N+1).

Small stores only: the figures at 100k executions, 1M jobs and 5M events are
``benchmarks/meta_store_scale.py``'s (docs/benchmarks.md, "Meta store at scale").
"""

from __future__ import annotations

from sqlalchemy import inspect

from aiflow.schemas.inputs import TriggerCreate
from aiflow.store import db
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.store.conftest import StatementCounter


def test_execution_pages_see_each_row_once_while_runs_are_added(store: MetaStore) -> None:
    version = seed.workflow(store)[0]
    before = [seed.execution(store, version).id for _ in range(11)]
    newest_first: list[int] = []
    cursor = None
    while page := store.page_executions(cursor=cursor, limit=3):
        newest_first += [e.id for e in page]
        cursor = page[-1].id
        seed.execution(store, version)  # a run arrives between two pages: never shifts them
    assert newest_first == before[::-1]

    oldest_first, cursor, added = [], None, []
    while page := store.page_executions(cursor=cursor, limit=4, ascending=True):
        oldest_first += [e.id for e in page]
        cursor = page[-1].id
        if len(added) < 3:
            added.append(seed.execution(store, version).id)  # shows up on a later page
    everything = [e.id for e in store.page_executions(limit=100, ascending=True)]
    assert oldest_first == everything and set(added) <= set(oldest_first)
    assert len(oldest_first) == len(set(oldest_first))


def test_event_and_trigger_pages_see_each_row_once_while_rows_are_added(store: MetaStore) -> None:
    first = [store.emit_event("k", "t", str(n)).seq for n in range(7)]
    seqs, after, late = [], first[0] - 1, []
    while page := store.list_events(after_seq=after, key="k", limit=2):
        seqs += [e.seq for e in page]
        after = page[-1].seq
        if len(late) < 3:  # written while a reader follows: read after the first seven
            late.append(store.emit_event("k", "t", "late").seq)
    assert seqs == first + late

    workflow = seed.workflow(store)[0].workflow_name
    for name in ("b", "d", "f", "h"):
        store.create_trigger(TriggerCreate(name=name, workflow=workflow, interval=60))
    names: list[str] = []
    cursor = None
    while page := store.page_triggers(cursor=cursor, limit=2):
        names += [t.name for t in page]
        cursor = page[-1].name
        if len(names) <= 4:  # one behind the reader (not seen), one ahead (seen once)
            for name in (f"a{len(names)}", f"{cursor}x"):
                store.create_trigger(TriggerCreate(name=name, workflow=workflow, interval=60))
    assert names == ["b", "d", "dx", "f", "fx", "h"]


EXPECTED_INDEXES = {
    ("event", ("key", "type", "seq")),  # a rule's read: its type and key after its cursor
    ("execution", ("status", "id")),  # a page of a status's runs
    ("execution", ("trigger_id", "id")),  # a page of a trigger's runs
    ("execution", ("workflow_id", "id")),  # a page of a workflow's runs, all versions
    ("job", ("status",)),  # jobs by status (/metrics)
}


def test_the_list_indexes_exist_after_migrating(store: MetaStore) -> None:
    with db.get_engine(store.uri).connect() as connection:
        inspector = inspect(connection)
        found = {
            (table, tuple(index["column_names"]))
            for table in ("event", "execution", "job")
            for index in inspector.get_indexes(table)
        }
    assert found >= EXPECTED_INDEXES, EXPECTED_INDEXES - found


def test_lists_cost_the_same_statements_at_any_size(
    store: MetaStore, sql_statements: StatementCounter
) -> None:
    """No N+1: each list takes as many statements for many rows as for a few."""
    version = seed.workflow(store)[0]
    workflow = version.workflow_name
    model = seed.model(store, versions=2)[0].model_name
    small = seed.execution(store, version)

    def calls() -> dict[str, int]:
        counted = {}
        for name, call in {
            "executions": lambda: store.page_executions(workflow=workflow, limit=100),
            "jobs": lambda: store.list_jobs(small.id),
            "versions": lambda: store.page_model_versions(model, limit=100),
            "triggers": lambda: store.page_triggers(workflow=workflow, limit=100),
            "events": lambda: store.list_events(key=f"execution/{small.id}", limit=100),
        }.items():
            with sql_statements() as statements:
                call()
            counted[name] = len(statements)
        return counted

    few = calls()
    for n in range(30):
        seed.execution(store, version)
        store.create_trigger(TriggerCreate(name=f"t{n}", workflow=workflow, interval=60))
        store.emit_event(f"execution/{small.id}", "JOB_RUNNING", "a")
    seed.model(store, model, versions=30)
    assert calls() == few

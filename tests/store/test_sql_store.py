"""Contract tests of MetaStore (workflows, examples, executions, jobs, events, stream ledger).

Every test runs against SQLite and PostgreSQL (the ``store`` fixture); the model registry and
metrics are in ``test_model_registry.py``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import pytest

from aiflow.errors import InvalidInput, MetaStoreError, NotFound
from aiflow.schemas.entities import ExecutionStatus, JobStatus, WorkflowVersion
from aiflow.store import db
from aiflow.store.sql_store import ExampleCreate, JobCreate, MetaStore

PLAN = {"nodes": [{"id": "read"}, {"id": "train"}]}


def register(store: MetaStore, plan_hash: str = "p1", source_hash: str = "s1", name: str = "wf"):
    return store.register_workflow_version(name, PLAN, plan_hash, source_hash, "file:///snap", [])


def job(name: str, *depends_on: str, **kwargs) -> JobCreate:
    return JobCreate(name=name, engine="local", spec={"job": name}, depends_on=list(depends_on),
                     **kwargs)  # fmt: skip


def new_execution(store: MetaStore, *jobs: JobCreate):
    version = register(store)
    return store.create_execution(version.id, "batch", "local", "local", list(jobs))


# -- workflows and examples -----------------------------------------------------------------------


def test_workflow_version_is_idempotent_per_plan_and_source(store: MetaStore) -> None:
    first = register(store)
    assert (first.version, first.workflow_name, first.plan) == (1, "wf", PLAN)
    assert register(store) == first
    assert register(store, plan_hash="p2").version == 2
    assert register(store, source_hash="s2").version == 3
    assert register(store, plan_hash="p2").version == 2  # an old combination is found again
    assert register(store, name="other").version == 1

    versions = store.list_workflow_versions("wf")
    assert [v.version for v in versions] == [3, 2, 1]
    assert store.get_workflow_version(first.id) == first
    assert [w.name for w in store.list_workflows()] == ["other", "wf"]
    assert store.get_workflow("wf").id == first.workflow_id
    assert first.created_at.tzinfo is UTC


def test_concurrent_registration_of_one_plan_yields_one_version(store: MetaStore) -> None:
    with ThreadPoolExecutor(6) as pool:
        same = list(pool.map(lambda _: register(store, name="race"), range(6)))
        different = list(pool.map(lambda i: register(store, f"p{i}", name="race2"), range(6)))
    assert {v.id for v in same} == {same[0].id}
    assert sorted(v.version for v in different) == [1, 2, 3, 4, 5, 6]


def test_workflow_lookups_of_missing_things_say_how_to_list(store: MetaStore) -> None:
    with pytest.raises(NotFound, match=r"workflow 'nope' not found \(see `aiflow workflow list`\)"):
        store.get_workflow("nope")
    with pytest.raises(NotFound, match="workflow 'nope'"):
        store.list_workflow_versions("nope")
    with pytest.raises(NotFound, match="workflow version 99"):
        store.get_workflow_version(99)
    with pytest.raises(NotFound, match=r"example 'nope' not found \(see `aiflow example list`\)"):
        store.get_example("nope")


def test_examples_are_upserted_by_name(store: MetaStore) -> None:
    iris = ExampleCreate(name="iris", columns={"x": "float"}, format="csv", batch_uri="/a.csv")
    logs = ExampleCreate(name="logs", columns={"line": "str"}, format="json", stream_uri="/in")
    store.register_workflow_version("wf", PLAN, "p1", "s1", "file:///snap", [iris, logs])
    created = store.get_example("iris")
    assert (created.columns, created.batch_uri, created.stream_uri) == (
        {"x": "float"},
        "/a.csv",
        None,
    )

    # Unchanged: untouched. Changed: updated in place, same id, updated_at moves.
    moved = iris.model_copy(update={"batch_uri": "/b.csv"})
    store.register_workflow_version("wf", PLAN, "p1", "s1", "file:///snap", [logs])
    assert store.get_example("iris") == created
    store.register_workflow_version("wf", PLAN, "p2", "s1", "file:///snap", [moved])
    updated = store.get_example("iris")
    assert (updated.id, updated.batch_uri, updated.created_at) == (
        created.id,
        "/b.csv",
        created.created_at,
    )
    assert updated.updated_at > created.updated_at
    assert [e.name for e in store.list_examples()] == ["iris", "logs"]

    with pytest.raises(InvalidInput, match="example 'iris' appears twice"):
        store.register_workflow_version("wf", PLAN, "p3", "s1", "file:///s", [iris, moved])


# -- executions and jobs --------------------------------------------------------------------------


def test_create_execution_writes_queued_jobs_and_dependencies(store: MetaStore) -> None:
    execution = new_execution(
        store, job("read"), job("train", "read", max_retries=2, retry_delay=0.5, timeout=60),
        job("eval", "read", "train"),
    )  # fmt: skip
    assert execution.status is ExecutionStatus.QUEUED
    assert (execution.mode, execution.workflow_name, execution.started_at) == ("batch", "wf", None)
    assert store.get_execution(execution.id) == execution

    read, train, evaluate = store.list_jobs(execution.id)
    assert [j.name for j in (read, train, evaluate)] == ["read", "train", "eval"]
    assert all(j.status is JobStatus.QUEUED and j.attempt == 0 for j in (read, train, evaluate))
    assert (read.depends_on, train.depends_on) == ([], [read.id])
    assert sorted(evaluate.depends_on) == sorted([read.id, train.id])
    assert (train.max_retries, train.retry_delay, train.timeout) == (2, 0.5, 60)
    assert train.spec == {"job": "train"} and train.handle is None and train.result is None
    assert store.get_job(evaluate.id) == evaluate


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([job("a"), job("b", "missing")], "job 'b' depends on unknown job 'missing'"),
        ([job("a"), job("a")], "job 'a' appears twice"),
        ([job("a", "c"), job("b", "a"), job("c", "b")], r"cycle through \['a', 'b', 'c'\]"),
        ([job("a", "a")], "cycle"),
    ],
)
def test_invalid_job_graph_writes_nothing(store: MetaStore, jobs, message: str) -> None:
    version = register(store)
    with pytest.raises(InvalidInput, match=message):
        store.create_execution(version.id, "batch", "local", "local", jobs)
    assert store.list_executions() == []


def test_create_execution_checks_version_and_mode(store: MetaStore) -> None:
    with pytest.raises(NotFound, match="workflow version 42 not found"):
        store.create_execution(42, "batch", "local", "local", [job("a")])
    with pytest.raises(InvalidInput, match="mode 'sometimes'"):
        store.create_execution(register(store).id, "sometimes", "local", "local", [job("a")])


def test_transition_execution_is_compare_and_set(store: MetaStore) -> None:
    execution = new_execution(store, job("a"))
    queued, running = {ExecutionStatus.QUEUED}, ExecutionStatus.RUNNING
    assert store.transition_execution(execution.id, running, expected=queued)
    assert not store.transition_execution(execution.id, running, expected=queued)  # lost the race
    started = store.get_execution(execution.id)
    assert started.status is running and started.started_at is not None
    assert started.started_at.tzinfo is UTC and started.ended_at is None

    assert store.transition_execution(execution.id, ExecutionStatus.STOPPING)
    assert store.transition_execution(execution.id, running)  # re-entering keeps the first start
    assert store.get_execution(execution.id).started_at == started.started_at

    assert store.transition_execution(execution.id, ExecutionStatus.FAILED, error="boom")
    ended = store.get_execution(execution.id)
    assert (ended.status, ended.error) == (ExecutionStatus.FAILED, "boom")
    assert ended.started_at == started.started_at and ended.ended_at is not None
    assert ended.ended_at >= ended.started_at
    assert not store.transition_execution(execution.id, running, expected=set())
    with pytest.raises(NotFound, match=r"execution 999 not found \(see `aiflow execution list`\)"):
        store.transition_execution(999, running)


def test_update_execution_changes_only_given_fields(store: MetaStore) -> None:
    execution = new_execution(store, job("a"))
    updated = store.update_execution(execution.id, driver_pid=123, driver_host="box")
    assert (updated.driver_pid, updated.driver_host, updated.error) == (123, "box", None)
    updated = store.update_execution(execution.id, error="oops")
    assert (updated.driver_pid, updated.driver_host, updated.error) == (123, "box", "oops")
    cleared = store.update_execution(execution.id, driver_pid=None)
    assert (cleared.driver_pid, cleared.driver_host) == (None, "box")
    with pytest.raises(NotFound):
        store.update_execution(999, error="x")


def test_list_executions_newest_first_with_filters(store: MetaStore) -> None:
    first = new_execution(store, job("a"))
    second = new_execution(store, job("a"))
    other_version = register(store, name="other")
    third = store.create_execution(other_version.id, "stream", "local", "local", [job("a")])
    store.transition_execution(second.id, ExecutionStatus.RUNNING)

    assert [e.id for e in store.list_executions()] == [third.id, second.id, first.id]
    assert [e.id for e in store.list_executions(limit=1)] == [third.id]
    assert [e.id for e in store.list_executions(workflow="wf")] == [second.id, first.id]
    running = store.list_executions(status=ExecutionStatus.RUNNING)
    assert [e.id for e in running] == [second.id]
    assert store.list_executions(workflow="other", status=ExecutionStatus.RUNNING) == []
    with pytest.raises(NotFound, match="workflow 'typo'"):
        store.list_executions(workflow="typo")


def test_transition_job_sets_fields_timestamps_and_emits_events(store: MetaStore) -> None:
    execution = new_execution(store, job("train"))
    (train,) = store.list_jobs(execution.id)
    queued = {JobStatus.QUEUED}

    assert store.transition_job(train.id, JobStatus.RUNNING, expected=queued, attempt=1,
                                handle={"pid": 42}, log_uri="file:///log")  # fmt: skip
    assert not store.transition_job(train.id, JobStatus.RUNNING, expected=queued, attempt=9)
    running = store.get_job(train.id)
    assert (running.status, running.attempt, running.handle) == (JobStatus.RUNNING, 1, {"pid": 42})
    assert running.started_at is not None and running.ended_at is None

    assert store.transition_job(train.id, JobStatus.FAILED, exit_code=3, error="bad")
    failed = store.get_job(train.id)
    assert (failed.exit_code, failed.error, failed.log_uri) == (3, "bad", "file:///log")
    assert failed.ended_at is not None and failed.duration is not None

    # A retry is a new attempt: the previous attempt's outcome is cleared.
    assert store.transition_job(train.id, JobStatus.RUNNING, expected={JobStatus.FAILED}, attempt=2)
    retried = store.get_job(train.id)
    assert (retried.attempt, retried.ended_at, retried.exit_code, retried.error) == (
        2,
        None,
        None,
        None,
    )
    assert retried.started_at is not None and running.started_at is not None
    assert retried.started_at >= running.started_at
    assert store.transition_job(train.id, JobStatus.SUCCEEDED, exit_code=0, result={"rows": 5})

    events = store.list_events(key=f"execution/{execution.id}")
    assert [(e.type, e.value) for e in events] == [
        ("JOB_RUNNING", "train"),
        ("JOB_FAILED", "train"),
        ("JOB_RUNNING", "train"),
        ("JOB_SUCCEEDED", "train"),
    ]
    with pytest.raises(NotFound, match="job 999 not found"):
        store.transition_job(999, JobStatus.RUNNING)
    with pytest.raises(TypeError, match="unknown job fields"):
        store.transition_job(train.id, JobStatus.RUNNING, status="x")  # type: ignore[call-arg]


def test_update_job_keeps_status(store: MetaStore) -> None:
    execution = new_execution(store, job("a"))
    (a,) = store.list_jobs(execution.id)
    updated = store.update_job(a.id, result={"rows": {"read": 10}}, handle={"pod": "p-1"})
    assert (updated.status, updated.result, updated.handle) == (
        JobStatus.QUEUED, {"rows": {"read": 10}}, {"pod": "p-1"},
    )  # fmt: skip
    assert store.update_job(a.id, handle=None).handle is None
    assert store.list_events() == []
    with pytest.raises(NotFound):
        store.update_job(999, result={})


def test_list_jobs_uses_a_constant_number_of_queries(store: MetaStore, sql_statements) -> None:
    jobs = [job("j0")] + [job(f"j{i}", f"j{i - 1}", "j0") for i in range(1, 100)]
    execution = new_execution(store, *jobs)
    with sql_statements() as statements:
        listed = store.list_jobs(execution.id)
    assert len(listed) == 100 and listed[5].depends_on == [listed[0].id, listed[4].id]
    assert len(statements) <= 3, statements  # BEGIN + jobs + dependencies
    with pytest.raises(NotFound, match="execution 999"):
        store.list_jobs(999)


# -- events and stream ledger ---------------------------------------------------------------------


def test_events_are_monotonic_and_filterable(store: MetaStore) -> None:
    emitted = [store.emit_event(f"k{i % 2}", "T" if i < 3 else "U", str(i)) for i in range(6)]
    seqs = [e.seq for e in emitted]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6
    assert store.list_events() == emitted
    assert [e.value for e in store.list_events(after_seq=seqs[3])] == ["4", "5"]
    assert [e.value for e in store.list_events(key="k0")] == ["0", "2", "4"]
    assert [e.value for e in store.list_events(key="k1", type="U")] == ["3", "5"]
    assert [e.value for e in store.list_events(limit=2)] == ["0", "1"]
    assert emitted[0].created_at.tzinfo is UTC
    with pytest.raises(InvalidInput):
        store.emit_event("", "T")


def test_event_seqs_are_unique_under_concurrent_writers(store: MetaStore) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: store.emit_event("k", "T", str(i)), range(40)))
    seqs = [e.seq for e in store.list_events(limit=1000)]
    assert len(seqs) == len(set(seqs)) == 40 and seqs == sorted(seqs)


def test_stream_ledger_is_idempotent(store: MetaStore) -> None:
    assert store.consumed_files("c1") == set()
    store.mark_consumed("c1", "/in/a.json")
    store.mark_consumed("c1", "/in/a.json")
    store.mark_consumed("c1", "/in/b.json")
    store.mark_consumed("c2", "/in/a.json")
    assert store.consumed_files("c1") == {"/in/a.json", "/in/b.json"}
    assert store.consumed_files("c2") == {"/in/a.json"}
    with pytest.raises(InvalidInput, match="stream file"):
        store.mark_consumed("c1", "x" * 600)


def test_store_is_reachable_from_the_default_settings(aiflow_home) -> None:
    store = MetaStore()
    try:
        assert store.uri == f"sqlite:///{aiflow_home / 'aiflow.db'}"
        assert isinstance(register(store), WorkflowVersion)  # migrated on first use
        assert (aiflow_home / "aiflow.db").exists()
    finally:
        store.dispose()


def test_invalid_limits_are_rejected(store: MetaStore) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        store.list_executions(limit=0)
    with pytest.raises(InvalidInput, match="limit"):
        store.list_events(limit=-1)


# -- construction and SQLite specifics (no parametrization) ---------------------------------------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("not a url", "invalid meta store URL"),
        ("oracle://scott:tiger@db/orcl", r"unsupported meta store URL oracle://scott:\*\*\*@db"),
    ],
)
def test_bad_urls_fail_at_construction(uri: str, message: str) -> None:
    with pytest.raises(MetaStoreError, match=message):
        MetaStore(uri)


def test_in_memory_sqlite_store_works() -> None:
    store = MetaStore("sqlite://")
    assert register(store).version == 1
    assert register(store, plan_hash="p2").version == 2


def test_sqlite_write_transactions_take_the_lock_up_front(tmp_path) -> None:
    """Two writers that both read first must queue, not fail with 'database is locked'.

    With a deferred BEGIN the second writer's read-to-write upgrade fails at once in WAL mode;
    BEGIN IMMEDIATE makes it wait for the first one (busy_timeout) instead.
    """
    store = MetaStore(f"sqlite:///{tmp_path / 'meta.db'}")
    version = register(store)

    def create(_: int) -> int:  # create_execution reads (the version) before it writes
        return store.create_execution(version.id, "batch", "local", "local", [job("a")]).id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(48)))  # a deferred BEGIN fails most of these
    assert len(set(ids)) == 48
    with db.get_engine(store.uri).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.dispose()

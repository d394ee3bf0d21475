"""Monitoring queries of the meta store (readiness, status counts, event feed head), on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow.errors import MetaStoreError
from aiflow.schemas.entities import ExecutionStatus, JobStatus
from aiflow.store import migrations
from aiflow.store.sql_store import JobCreate, MetaStore


def new_execution(store: MetaStore, *jobs: str) -> int:
    version = store.register_workflow_version("wf", {}, "p", "s", "file:///snap", [])
    created = [JobCreate(name=name, engine="local", spec={}) for name in jobs]
    return store.create_execution(version.id, "batch", "local", "local", created).id


def test_count_by_status_lists_every_status(store: MetaStore, sql_statements) -> None:
    empty = store.count_by_status()
    assert empty.executions == dict.fromkeys(ExecutionStatus, 0)
    assert empty.jobs == dict.fromkeys(JobStatus, 0)

    first = new_execution(store, "a", "b")
    new_execution(store, "c")
    store.transition_execution(first, ExecutionStatus.RUNNING)
    job = store.list_jobs(first)[0]
    store.transition_job(job.id, JobStatus.RUNNING)

    with sql_statements() as statements:
        counts = store.count_by_status()
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2  # one grouped query per table, whatever the history
    assert counts.executions[ExecutionStatus.RUNNING] == 1
    assert counts.executions[ExecutionStatus.QUEUED] == 1
    assert counts.jobs == {**dict.fromkeys(JobStatus, 0), JobStatus.QUEUED: 2, JobStatus.RUNNING: 1}


def test_latest_event_at(store: MetaStore) -> None:
    assert store.latest_event_at() is None
    store.emit_event("k", "T1")
    newest = store.emit_event("k", "T2")
    assert store.latest_event_at() == newest.created_at


def test_check_ready(store: MetaStore) -> None:
    assert store.check_ready() == migrations.head()


def test_check_ready_migrates_a_fresh_sqlite_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert MetaStore(uri).check_ready() == migrations.head()


def test_check_ready_reports_wrong_revision_and_unreachable(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    migrations.upgrade(uri, "0001")
    with pytest.raises(MetaStoreError, match=r"at revision 0001, code expects .*aiflow db upgrade"):
        MetaStore(uri, auto_upgrade=False).check_ready()

    down = MetaStore("postgresql+psycopg://u:secret@127.0.0.1:9/x?connect_timeout=2")
    with pytest.raises(MetaStoreError, match="unreachable") as caught:
        down.check_ready()
    assert "secret" not in str(caught.value)

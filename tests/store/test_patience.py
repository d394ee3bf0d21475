"""Riding out a meta store outage (``aiflow.store.patience``) with a real SQLite database that
cannot be opened until a directory in its place is removed: what a driver sees while
PostgreSQL restarts (the full restart, with PostgreSQL itself, is in
``tests/e2e/test_chaos.py``)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aiflow.errors import MetaStoreError, MetaStoreUnavailable, NotFound
from aiflow.store.patience import patient
from aiflow.store.sql_store import MetaStore


def blocked(path: Path) -> Path:
    """A database path SQLite cannot open: a directory is in the way."""
    path.mkdir()
    return path


def test_an_unreachable_store_is_unavailable_not_another_error(tmp_path: Path) -> None:
    store = MetaStore(f"sqlite:///{blocked(tmp_path / 'meta.db')}")
    with pytest.raises(MetaStoreUnavailable, match="cannot open meta store"):
        store.list_workflows()


def test_calls_wait_until_the_store_is_back(tmp_path: Path) -> None:
    path = blocked(tmp_path / "meta.db")
    store = patient(MetaStore(f"sqlite:///{path}"), patience=30)
    back = threading.Timer(0.5, path.rmdir)
    back.start()
    try:
        version = store.register_workflow_version("wf", {}, "plan", "src", "file:///s", [])
    finally:
        back.cancel()
    assert path.is_file(), "the call returned once the database could be opened"
    assert store.get_workflow_version(version.id).workflow_name == "wf"


def test_answers_are_not_retried_and_patience_ends(tmp_path: Path) -> None:
    store = patient(MetaStore(f"sqlite:///{tmp_path / 'meta.db'}"), patience=30)
    with pytest.raises(NotFound):  # at once: a missing row is an answer, not an outage
        store.get_execution(12345)
    gone = patient(MetaStore(f"sqlite:///{blocked(tmp_path / 'never.db')}"), patience=0.3)
    with pytest.raises(MetaStoreError, match="cannot open meta store"):
        gone.list_workflows()
    assert "patient(MetaStore(" in repr(gone)

"""Store fixtures: the same contract tests run against SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from aiflow.store import db
from aiflow.store.sql_store import MetaStore


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A meta store URL at the head revision (SQLite migrates itself on first use)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    url: str = request.getfixturevalue(f"migrated_{request.param}_url")
    return url


@pytest.fixture
def store(store_uri: str) -> Iterator[MetaStore]:
    store = MetaStore(store_uri)
    store.list_workflows()  # first use: schema check / auto-upgrade, outside any counting
    yield store
    store.dispose()


StatementCounter = Callable[[], AbstractContextManager[list[str]]]


@pytest.fixture
def sql_statements(store: MetaStore) -> StatementCounter:
    """``with sql_statements() as statements:`` collects every SQL statement the store sends
    inside the block (BEGIN included), to pin down query counts (no N+1)."""

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        engine = db.get_engine(store.uri)
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting

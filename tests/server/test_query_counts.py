"""No N+1 queries: list endpoints cost a fixed number of SQL statements whatever the page size.

The one server test that runs the app in-process (``httpx.ASGITransport``) instead of on a real
server: statements can only be counted by a listener on the engine of the process that sends
them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from aiflow.config import ServerSettings, Settings
from aiflow.server.app import create_app
from aiflow.store import db
from aiflow.store.sql_store import MetaStore
from tests.server import seed

API = "/api/v1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetaStore]:
    """An empty store of its own (the query count must not depend on other tests' rows)."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'counted.db'}"
    else:
        uri = request.getfixturevalue("migrated_postgres_url")
    store = MetaStore(uri)
    store.list_workflows()  # first use: schema check / auto-upgrade, outside any counting
    yield store
    store.dispose()


def test_pages_cost_the_same_few_queries_at_any_size(fresh_store: MetaStore) -> None:
    """No N+1: a page of 100 executions or model versions takes as many SQL statements as a
    page of 2. Counted in-process (the one test on the ASGI transport, not a server) with a
    listener on the store's engine; dev mode, so authentication adds no query."""
    version = seed.workflow(fresh_store)[0]
    execution = seed.execution(fresh_store, version)
    for _ in range(99):
        seed.execution(fresh_store, version)
    name = seed.model(fresh_store, versions=100)[0].model_name
    for version_number in (3, 50):
        fresh_store.set_model_alias(name, f"alias-{version_number}", version_number)
    settings = Settings(server=ServerSettings(dev=True, host="127.0.0.1"))
    app = create_app(store=fresh_store, settings=settings)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements.append(statement)

    async def count(path: str) -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            statements.clear()
            response = await client.get(API + path)
            assert response.status_code == 200, response.text
        return len(statements)

    async def counts() -> dict[str, int]:
        workflow = version.workflow_name
        paths = {
            "executions-2": "/executions?limit=2",
            "executions-100": "/executions?limit=100",
            "filtered-100": f"/executions?limit=100&workflow={workflow}&mode=batch&count=true",
            "versions-2": f"/models/{name}/versions?limit=2",
            "versions-100": f"/models/{name}/versions?limit=100",
            "execution": f"/executions/{execution.id}",
            "serving": f"/models/{name}/serving",
        }
        return {key: await count(path) for key, path in paths.items()}

    engine = db.get_engine(fresh_store.uri)
    event.listen(engine, "before_cursor_execute", record)
    try:
        measured = asyncio.run(counts())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert measured["executions-100"] == measured["executions-2"] == 1, measured
    assert measured["filtered-100"] == 4, measured  # page + workflow lookup, COUNT + lookup
    # model, versions, aliases, newest metrics
    assert measured["versions-100"] == measured["versions-2"] == 4, measured
    assert measured["execution"] == 3, measured  # execution, jobs, dependency edges
    assert measured["serving"] == 1, measured

"""The trigger routes and client methods against a real server, on SQLite and PostgreSQL:
create, list (cursor pages, filters, totals), get, update, delete, the executions a trigger
started, and errors that name the field and value."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.client import Client
from aiflow.deployers import get_deployer
from aiflow.errors import AlreadyExists, InvalidInput, NotFound
from aiflow.scheduler.service import SchedulerService
from aiflow.schemas.inputs import TriggerCreate, TriggerUpdate
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.server.conftest import assert_problem, running_server, server_env

API = "/api/v1"
TRIGGERS = f"{API}/triggers"
Http = Callable[..., httpx.Client]


@pytest.fixture
def store(api: Any) -> MetaStore:
    """The server's own meta store, opened from the test process."""
    return MetaStore(api.store_uri)


@pytest.fixture
def workflow(store: MetaStore) -> str:
    """A workflow with one batch execution for fires to repeat."""
    version = seed.workflow(store)[0]
    seed.execution(store, version)
    return version.workflow_name


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_trigger_lifecycle(http: Http, store: MetaStore, workflow: str) -> None:
    editor, name = http("editor"), seed.unique("nightly")
    body = {"name": name, "workflow": workflow, "cron": "0 2 * * *", "max_active": 1}
    created = editor.post(TRIGGERS, json=body)
    trigger = ok(created, 201)
    assert created.headers["location"] == f"{TRIGGERS}/{name}"
    assert trigger["kind"] == "periodic" and trigger["cron"] == "0 2 * * *"
    assert trigger["enabled"] and trigger["next_fire_at"].endswith(("02:00:00Z", "02:00:00+00:00"))
    assert ok(http("viewer").get(f"{TRIGGERS}/{name}")) == trigger

    disabled = ok(editor.patch(f"{TRIGGERS}/{name}", json={"enabled": False}))
    assert not disabled["enabled"] and disabled["max_active"] == 1
    changed = ok(editor.patch(f"{TRIGGERS}/{name}", json={"interval": 60, "max_active": None}))
    assert (changed["cron"], changed["interval"], changed["max_active"]) == (None, 60, None)
    enabled = ok(editor.patch(f"{TRIGGERS}/{name}", json={"enabled": True}))
    assert enabled["enabled"] and enabled["next_fire_at"] is not None

    # the scheduler fires it (here from the test process, on the server's store; the store is
    # shared, so triggers of other tests that are due by then fire too)
    due = store.get_trigger(name).next_fire_at
    assert due is not None
    started: list[int] = []
    SchedulerService(
        store, get_deployer, clock=lambda: due, start_driver=lambda id, **_: started.append(id)
    ).fire_triggers()
    page = ok(http("viewer").get(f"{TRIGGERS}/{name}/executions", params={"count": "true"}))
    assert page["total"] == 1 and page["data"][0]["id"] in started
    assert page["data"][0]["trigger_id"] == trigger["id"]
    filtered = ok(
        http("viewer").get(f"{API}/executions", params={"trigger": name, "count": "true"})
    )
    assert filtered == page  # the same filter on /executions (what Client.page_executions uses)
    fires = ok(http("viewer").get(f"{API}/events", params={"key": f"trigger/{name}"}))["data"]
    assert [e["type"] for e in fires] == ["TRIGGER_FIRED"]

    deleted = ok(editor.delete(f"{TRIGGERS}/{name}"))
    assert deleted["name"] == name
    assert_problem(http("viewer").get(f"{TRIGGERS}/{name}"), 404, "not_found")
    assert_problem(editor.delete(f"{TRIGGERS}/{name}"), 404, "not_found")
    execution = ok(http("viewer").get(f"{API}/executions/{page['data'][0]['id']}"))
    assert execution["trigger_id"] == trigger["id"]


def test_list_pages_filters_and_counts(http: Http, store: MetaStore, workflow: str) -> None:
    names = sorted(seed.unique("page") for _ in range(5))
    for i, name in enumerate(names):
        enabled = i % 2 == 0
        store.create_trigger(
            TriggerCreate(name=name, workflow=workflow, interval=60, enabled=enabled)
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"workflow": workflow, "limit": 2, "count": "true"}
        if cursor is not None:
            params["cursor"] = cursor
        page = ok(http("viewer").get(TRIGGERS, params=params))
        assert page["total"] == 5
        seen += [t["name"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    enabled = ok(http("viewer").get(TRIGGERS, params={"workflow": workflow, "enabled": "true"}))
    assert [t["name"] for t in enabled["data"]] == names[::2]
    missing = http("viewer").get(TRIGGERS, params={"workflow": seed.unique("nope")})
    assert_problem(missing, 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"cron": "61 * * * *"}, "body.cron", ["'61 * * * *'", "Bad minute"]),
        ({"cron": "0 2 * *"}, "body.cron", ["'0 2 * *'", "has 4 fields"]),
        ({"interval": 0}, "body.interval", ["greater than or equal to 1"]),
        ({"cron": "* * * * *", "interval": 5}, "body", ["exactly one of cron, interval"]),
        ({"interval": 60, "mode": "fast"}, "body.mode", []),
        ({"interval": 60, "surprise": 1}, "body.surprise", []),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    http: Http, workflow: str, body: dict[str, Any], field: str, words: list[str]
) -> None:
    full = {"name": seed.unique("bad"), "workflow": workflow, **body}
    problem = assert_problem(http("editor").post(TRIGGERS, json=full), 422, "invalid_input")
    assert field in [e["field"] for e in problem["errors"]], problem
    for word in words:
        assert word in problem["detail"], problem


def test_unknown_workflow_version_name_and_deployer(http: Http, workflow: str) -> None:
    editor = http("editor")
    base = {"name": seed.unique("t"), "workflow": workflow, "interval": 60}
    gone = editor.post(TRIGGERS, json={**base, "workflow": "no-such-workflow"})
    assert (
        "workflow 'no-such-workflow' not found" in assert_problem(gone, 404, "not_found")["detail"]
    )
    version = editor.post(TRIGGERS, json={**base, "version": 99})
    assert "version 99 not found" in assert_problem(version, 404, "not_found")["detail"]
    deployer = editor.post(TRIGGERS, json={**base, "deployer": "mars"})
    assert "unknown deployer 'mars'" in assert_problem(deployer, 422, "invalid_input")["detail"]
    ok(editor.post(TRIGGERS, json=base), 201)
    assert_problem(editor.post(TRIGGERS, json=base), 409, "already_exists")
    rule = {**base, "name": seed.unique("r"), "interval": None, "event_type": "X"}
    ok(editor.post(TRIGGERS, json=rule), 201)
    patched = editor.patch(f"{TRIGGERS}/{rule['name']}", json={"cron": "* * * * *"})
    assert "is an event rule" in assert_problem(patched, 422, "invalid_input")["detail"]
    null = editor.patch(f"{TRIGGERS}/{rule['name']}", json={"enabled": None})
    assert "enabled cannot be null" in assert_problem(null, 422, "invalid_input")["detail"]


def test_client_methods_return_store_entities(api: Any, store: MetaStore, workflow: str) -> None:
    name = seed.unique("client")
    with Client(api.url, api.tokens["editor"]) as client:
        spec = TriggerCreate(name=name, workflow=workflow, event_type="MODEL_GENERATED")
        created = client.create_trigger(spec)
        assert created == store.get_trigger(name)
        assert client.get_trigger(name) == created
        assert name in [t.name for t in client.page_triggers(workflow=workflow, limit=500).data]
        off = client.update_trigger(name, TriggerUpdate(enabled=False))
        assert not off.enabled and off.event_type == "MODEL_GENERATED"
        assert client.page_executions(trigger=name).data == []
        with pytest.raises(AlreadyExists):
            client.create_trigger(spec)
        with pytest.raises(InvalidInput, match="is an event rule"):
            client.update_trigger(name, TriggerUpdate(interval=5))
        assert client.delete_trigger(name).name == name
        with pytest.raises(NotFound, match=f"trigger '{name}' not found"):
            client.get_trigger(name)


@pytest.mark.slow
def test_the_embedded_scheduler_fires_and_reports_its_delays(tmp_path: Path) -> None:
    """With the scheduler inside the server, an event rule fires and /metrics shows the loop
    delay and the fire (a failed one: the version never ran in stream mode, so no driver)."""
    store_uri = f"sqlite:///{tmp_path / 'aiflow.db'}"
    store = MetaStore(store_uri)
    seed.execution(store, seed.workflow(store, "wf")[0])
    token = store.create_token("ops", "editor")[1]
    env = server_env(tmp_path / "home", store_uri, AIFLOW__SERVER__SCHEDULER="true")
    headers = {"Authorization": f"Bearer {token}"}
    with (
        running_server(env, log=tmp_path / "server.log") as url,
        httpx.Client(base_url=url, headers=headers) as client,
    ):
        rule = {"name": "ping", "workflow": "wf", "event_type": "PING", "mode": "stream"}
        ok(client.post(TRIGGERS, json=rule), 201)
        store.emit_event("k", "PING")
        deadline = time.monotonic() + 30
        while True:
            metrics = client.get("/metrics").text
            if 'aiflow_trigger_fires_total{outcome="failed"} 1.0' in metrics:
                break
            assert time.monotonic() < deadline, metrics
            time.sleep(0.2)
    loop_count = re.search(r"^aiflow_scheduler_loop_delay_seconds_count (\S+)$", metrics, re.M)
    assert loop_count is not None and float(loop_count.group(1)) >= 1
    assert "aiflow_trigger_fire_delay_seconds_count 1.0" in metrics
    failed = store.list_events(key="trigger/ping")[-1]
    assert failed.type == "TRIGGER_FAILED" and "no stream execution to repeat" in failed.value

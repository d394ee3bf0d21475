"""Sending events: locally (``aiflow event send``, ``af.send_event``) and through a server
(``POST /api/v1/events``, ``Client.send_event``, ``aiflow --server URL event send``); and a
workflow with event-driven jobs submitted to a server, whose rules become triggers. The
server tests run against a real ``aiflow server``, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import aiflow as af
from aiflow.cli.main import main
from aiflow.client import Client
from aiflow.config import reset_settings
from aiflow.errors import InvalidInput
from aiflow.schemas.entities import Event, Role
from aiflow.store.sql_store import MetaStore
from tests.scheduler.event_workflows import write_workflow
from tests.server.conftest import ApiServer, assert_problem, check_access, unique

EVENTS = "/api/v1/events"
Http = Callable[..., httpx.Client]


# -- locally -----------------------------------------------------------------------------------


@pytest.fixture
def store() -> MetaStore:
    """The local meta store (the test's own ``AIFLOW_HOME``), which the CLI uses too."""
    return MetaStore()


def test_aiflow_event_send_and_list(
    store: MetaStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def aiflow(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["aiflow", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        return int(exited.value.code or 0), captured.out, captured.err

    code, out, _ = aiflow("event", "send", "retrain", "2024-06", "--json")
    sent = Event.model_validate(json.loads(out))
    assert code == 0 and (sent.key, sent.type, sent.value) == ("retrain", "user", "2024-06")
    code, out, _ = aiflow("event", "send", "retrain", "--type", "data_ready")
    assert code == 0 and "data_ready retrain ''" in out
    code, _, err = aiflow("event", "send", "m", "3", "--type", "MODEL_GENERATED")
    assert code != 0 and "reserved for the platform's own events" in err
    code, out, _ = aiflow("event", "list", "--key", "retrain", "--json")
    assert [(e["type"], e["value"]) for e in json.loads(out)] == [
        ("user", "2024-06"),
        ("data_ready", ""),
    ]
    assert store.list_events(type="MODEL_GENERATED") == []


def test_send_event_refuses_the_platforms_types(store: MetaStore) -> None:
    for reserved in ("MODEL_GENERATED", "job_succeeded", "TRIGGER_FIRED", "EXECUTION_X"):
        with pytest.raises(InvalidInput, match="reserved"):
            af.send_event("k", "v", event_type=reserved)
    sent = af.send_event("k", "v")
    assert store.list_events(key="k") == [sent] and sent.type == "user"


# -- through a server ------------------------------------------------------------------------------


def test_post_events_needs_an_editor_and_appends_a_user_event(api: ApiServer, http: Http) -> None:
    key = unique("retrain")
    check_access(http, "POST", EVENTS, Role.EDITOR, json={"key": key, "value": "v"})
    sent = http("editor").post(EVENTS, json={"key": key, "type": "data_ready", "value": "p/1"})
    assert sent.status_code == 201, sent.text
    event = sent.json()
    assert (event["key"], event["type"], event["value"]) == (key, "data_ready", "p/1")
    listed = http("viewer").get(EVENTS, params={"key": key}).json()["data"]
    # check_access's editor and admin sent one each, then ours
    assert [(e["type"], e["value"]) for e in listed] == [
        ("user", "v"),
        ("user", "v"),
        ("data_ready", "p/1"),
    ]
    assert listed[-1] == event


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "k", "type": "MODEL_GENERATED", "value": "3"}, None),
        ({"key": "k", "type": "job_succeeded"}, None),
        ({"type": "user"}, "body.key"),
        ({"key": "", "type": "user"}, "body.key"),
        ({"key": "k", "type": "x" * 65}, "body.type"),
        ({"key": "k", "extra": 1}, "body.extra"),
    ],
)
def test_reserved_types_and_bad_bodies_are_422(
    http: Http, body: dict[str, Any], field: str | None
) -> None:
    problem = assert_problem(http("editor").post(EVENTS, json=body), 422, "invalid_input")
    if field is None:
        assert "reserved for the platform's own events" in problem["detail"]
    else:
        assert field in problem["detail"], problem


def test_client_and_cli_send_events(
    api: ApiServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = unique("go")
    with Client(api.url, api.tokens["editor"]) as client:
        event = client.send_event(key, "1")
        assert (event.key, event.type, event.value) == (key, "user", "1")
        with pytest.raises(InvalidInput, match="reserved"):
            client.send_event(key, "1", event_type="TRIGGER_FIRED")
    monkeypatch.setenv("AIFLOW__CLIENT__TOKEN", api.tokens["editor"])
    reset_settings()
    monkeypatch.setattr(
        sys, "argv", ["aiflow", "--server", api.url, "event", "send", key, "2", "--json"]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code in (0, None)
    sent = json.loads(capsys.readouterr().out)
    assert [e.value for e in MetaStore(api.store_uri).list_events(key=key)] == ["1", "2"]
    assert sent["seq"] == MetaStore(api.store_uri).list_events(key=key)[-1].seq


def test_a_submitted_workflows_rules_become_triggers(api: ApiServer, tmp_path: Path) -> None:
    name = unique("ruled")
    body = f"""
    with af.workflow({name!r}) as wf:
        first = af.user_operation(record, params={{"tag": "first"}}, name="first")
        then = af.user_operation(record, params={{"tag": "then"}}, name="then")
        af.action_on_job_status(then, first, "succeeded", action="restart")
    """
    wf = write_workflow(tmp_path / "ruled", body, out=tmp_path / "out.txt")
    with Client(api.url, api.tokens["editor"]) as client:
        execution = client.submit(wf)
        [rule] = client.list_triggers(workflow=name)
    assert [j.name for j in client_jobs(api, execution.id)] == ["first"]
    assert (rule.name, rule.origin, rule.job, rule.action) == (
        f"{name}.then.0", "workflow", "then", "restart",
    )  # fmt: skip
    assert (rule.event_type, rule.event_key, rule.event_value) == (
        "JOB_SUCCEEDED", None, "first",
    )  # fmt: skip
    with Client(api.url, api.tokens["viewer"]) as client:
        # its driver is detached: leave nothing running for the next tests (or after the server)
        assert client.wait_for_execution(execution.id, timeout=120).status.value == "succeeded"


def client_jobs(api: ApiServer, execution_id: int) -> list[Any]:
    with Client(api.url, api.tokens["viewer"]) as client:
        return client.list_jobs(execution_id)

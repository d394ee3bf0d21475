"""What ``meta_store_scale.py`` measures on one filled store.

Each figure is the wall time of one call, repeated (after one warm-up call), as p50 and p95:

* ``store``: the ``MetaStore`` methods the REST list routes and the CLI's list commands call;
* ``rest``: the list endpoints in-process (FastAPI's ``TestClient``, a viewer token): routing,
  authentication, the store and the JSON answer, without a network;
* ``cli``: ``aiflow ... list`` commands in-process (typer's ``CliRunner``): the command's own
  time, with its store's schema check and the table it prints, without the interpreter start;
* ``scheduler``: one pass of the trigger loop (``SchedulerService.fire_triggers``) with every
  trigger of the store active (a fixed clock: nothing periodic is due), idle, after 100 new
  events no rule selects, and after events that fire one rule;
* ``events``: reading the feed after a sequence number: a recent one versus an old one.

Names of things come from the fill's shape (``scripts/fill_rows.py``): ``wf-00000`` is the
busiest workflow, the last one the quietest, ``trigger-00000`` a periodic trigger with runs.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiflow.store.sql_store import MetaStore

LIST_GOAL = 0.050
LOOP_GOAL = 0.100


@dataclass
class Row:
    group: str
    name: str
    goal: float | None
    samples: list[float] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Probe:
    """Where the interesting rows of the filled store are."""

    head: int  # newest event seq
    newest: int  # newest execution id
    workflows: int

    @classmethod
    def of(cls, store: MetaStore) -> Probe:
        head = store.list_events(newest_first=True, limit=1)[0].seq
        newest = store.page_executions(limit=1)[0].id
        return cls(head, newest, store.count_workflows())

    @property
    def hot(self) -> str:
        return "wf-00000"

    @property
    def cold(self) -> str:
        return f"wf-{self.workflows - 1:05d}"

    def execution_ids(self, seed: int = 7) -> Iterator[int]:
        rng = random.Random(seed)
        while True:
            yield rng.randint(1, self.newest)


def timed(group: str, name: str, call: Callable[[], Any], repeat: int, goal: float | None) -> Row:
    call()  # warm: first-use costs (schema check, statement caches) are not what is measured
    row = Row(group, name, goal)
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        row.samples.append(time.perf_counter() - began)
    return row


def store_rows(store: MetaStore, probe: Probe, repeat: int) -> list[Row]:
    ids, mid, g = probe.execution_ids(), probe.newest // 2, LIST_GOAL
    runs, events = store.page_executions, store.list_events
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("page_executions newest", lambda: runs(limit=51)),
        ("page_executions deep cursor", lambda: runs(cursor=mid, limit=51)),
        ("page_executions oldest first", lambda: runs(ascending=True, limit=51)),
        ("page_executions status=failed", lambda: runs(status="failed", limit=51)),
        ("page_executions status=running", lambda: runs(status="running", limit=51)),
        ("page_executions workflow=busiest", lambda: runs(workflow=probe.hot, limit=51)),
        ("page_executions workflow=quietest", lambda: runs(workflow=probe.cold, limit=51)),
        ("page_executions trigger=", lambda: runs(trigger="trigger-00000", limit=51)),
        ("page_executions mode=stream", lambda: runs(mode="stream", limit=51)),
        ("count_executions", lambda: store.count_executions()),
        ("count_executions status=failed", lambda: store.count_executions(status="failed")),
        ("list_jobs (an execution)", lambda: store.list_jobs(next(ids))),
        ("list_execution_metrics", lambda: store.list_execution_metrics(next(ids))),
        ("list_events after recent seq", lambda: events(after_seq=probe.head - 100)),
        ("list_events after seq 1000", lambda: events(after_seq=1000)),
        ("list_events tail (newest first)", lambda: events(newest_first=True)),
        ("list_events key=sensor/7 from 0", lambda: events(key="sensor/7")),
        ("list_events type=MODEL_GENERATED", lambda: events(type="MODEL_GENERATED")),
        ("list_events key=execution/<newest>", lambda: events(key=f"execution/{probe.newest}")),
        ("page_workflows", lambda: store.page_workflows(limit=51)),
        ("list_workflows (whole)", lambda: store.list_workflows()),
        ("page_workflow_versions", lambda: store.page_workflow_versions(probe.hot, limit=51)),
        ("page_models", lambda: store.page_models(limit=51)),
        ("page_model_versions", lambda: store.page_model_versions("model-00", limit=51)),
        ("list_model_versions (whole)", lambda: store.list_model_versions("model-00")),
        ("model_history", lambda: store.model_history("model-00")),
        ("page_triggers", lambda: store.page_triggers(limit=51)),
        ("list_triggers (whole)", lambda: store.list_triggers()),
        ("page_examples", lambda: store.page_examples(limit=51)),
        ("count_by_status (/metrics)", lambda: store.count_by_status()),
    ]  # fmt: skip
    goals = {"count_by_status (/metrics)": None}
    return [timed("store", name, call, repeat, goals.get(name, g)) for name, call in calls]


def rest_rows(store: MetaStore, probe: Probe, repeat: int) -> list[Row]:
    from fastapi.testclient import TestClient

    from aiflow.schemas.entities import Role
    from aiflow.server.app import create_app

    _, token = store.create_token(f"bench-{secrets.token_hex(4)}", Role.VIEWER)
    ids, mid = probe.execution_ids(), probe.newest // 2
    paths: list[tuple[str, Callable[[], str]]] = [
        ("GET /executions", lambda: "/executions"),
        ("GET /executions?cursor=<middle>", lambda: f"/executions?cursor={mid}"),
        ("GET /executions?order=asc", lambda: "/executions?order=asc"),
        ("GET /executions?status=failed", lambda: "/executions?status=failed"),
        ("GET /executions?workflow=<busiest>", lambda: f"/executions?workflow={probe.hot}"),
        ("GET /executions?workflow=<quietest>", lambda: f"/executions?workflow={probe.cold}"),
        ("GET /executions?count=true", lambda: "/executions?count=true"),
        ("GET /executions/{id}", lambda: f"/executions/{next(ids)}"),
        ("GET /executions/{id}/jobs", lambda: f"/executions/{next(ids)}/jobs"),
        ("GET /events?after_seq=<recent>", lambda: f"/events?after_seq={probe.head - 50}"),
        ("GET /events?after_seq=1000", lambda: "/events?after_seq=1000"),
        ("GET /events?order=desc", lambda: "/events?order=desc"),
        ("GET /events?key=sensor/7", lambda: "/events?key=sensor/7"),
        ("GET /workflows", lambda: "/workflows"),
        ("GET /workflows/{name}/versions", lambda: f"/workflows/{probe.hot}/versions"),
        ("GET /models", lambda: "/models"),
        ("GET /models/{name}/versions", lambda: "/models/model-00/versions"),
        ("GET /models/{name}/history", lambda: "/models/model-00/history"),
        ("GET /triggers", lambda: "/triggers"),
        ("GET /triggers?count=true", lambda: "/triggers?count=true"),
        ("GET /triggers/{name}/executions", lambda: "/triggers/trigger-00000/executions"),
        ("GET /examples", lambda: "/examples"),
    ]
    rows = []
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(store=store), headers=headers) as client:

        def get(path: str) -> None:
            response = client.get(f"/api/v1{path}")
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")

        for name, path in paths:
            rows.append(timed("rest", name, lambda p=path: get(p()), repeat, LIST_GOAL))  # type: ignore[misc]
    return rows


def cli_rows(uri: str, probe: Probe, repeat: int) -> list[Row]:
    from typer.testing import CliRunner

    from aiflow.cli.main import app

    runner = CliRunner()
    ids, recent = probe.execution_ids(11), str(probe.head - 100)
    commands: list[tuple[str, Callable[[], list[str]]]] = [
        ("aiflow execution list", lambda: ["execution", "list"]),
        ("aiflow execution list --status failed", lambda: ["execution", "list", "-s", "failed"]),
        ("aiflow execution list -w <busiest>", lambda: ["execution", "list", "-w", probe.hot]),
        ("aiflow job list ID", lambda: ["job", "list", str(next(ids))]),
        ("aiflow execution list --json", lambda: ["execution", "list", "--json"]),
        ("aiflow event list --after <recent>", lambda: ["event", "list", "--after", recent]),
        ("aiflow event list --key sensor/7", lambda: ["event", "list", "--key", "sensor/7"]),
        ("aiflow workflow list", lambda: ["workflow", "list"]),
        ("aiflow workflow show <busiest>", lambda: ["workflow", "show", probe.hot]),
        ("aiflow model list", lambda: ["model", "list"]),
        ("aiflow model versions NAME", lambda: ["model", "versions", "model-00"]),
        ("aiflow trigger list", lambda: ["trigger", "list"]),
        ("aiflow example list", lambda: ["example", "list"]),
    ]  # fmt: skip

    def run(args: list[str]) -> None:
        result = runner.invoke(app, args, env={"AIFLOW__METASTORE__URI": uri})
        if result.exit_code != 0:
            raise RuntimeError(f"aiflow {' '.join(args)}: {result.output[-500:]}")

    return [
        timed("cli", name, lambda a=args: run(a()), repeat, LIST_GOAL)  # type: ignore[misc]
        for name, args in commands
    ]


def scheduler_rows(store: MetaStore, repeat: int) -> list[Row]:
    from aiflow.deployers import get_deployer
    from aiflow.scheduler.service import SchedulerService
    from aiflow.scheduler.triggers import fire_due, fire_events

    now = datetime.now(UTC)
    service = SchedulerService(
        store, get_deployer, clock=lambda: now, start_driver=lambda *_a, **_k: None
    )
    rules = store.event_rules()
    active = len([t for t in store.list_triggers() if t.enabled])
    label = f"pass, {active} active triggers, idle"
    idle = timed("scheduler", label, service.fire_triggers, repeat, LOOP_GOAL)

    def each_rule() -> None:  # the pass before RuleWatch: one query per event rule, each pass
        fire_due(store, now)
        fire_events(store, now)

    each = timed("scheduler", "  the same, a query per rule (before)", each_rule, repeat, LOOP_GOAL)
    noisy = Row("scheduler", "pass after 100 new events no rule selects", LOOP_GOAL)
    for _ in range(repeat):
        for n in range(100):
            store.emit_event(f"noise/{n}", "bench_noise", "x")
        began = time.perf_counter()
        service.fire_triggers()
        noisy.samples.append(time.perf_counter() - began)
    sensors = [r for r in rules if (r.event_key or "").startswith("sensor/")]
    rule = next(r for r in sensors if r.event_value is None and r.origin == "user")
    firing = Row("scheduler", "pass after an event that fires a rule", LOOP_GOAL)
    for _ in range(max(3, repeat // 4)):
        store.emit_event(rule.event_key or "", rule.event_type or "", "bench.csv")
        began = time.perf_counter()
        service.fire_triggers()
        firing.samples.append(time.perf_counter() - began)
    return [idle, each, noisy, firing]


def subscription_rows(store: MetaStore, probe: Probe, repeat: int) -> list[Row]:
    """Following the feed from a sequence number: what ``GET /events?after_seq``, the SSE
    stream and ``aiflow serve``'s watcher do each poll. A fresh head: 10 events after it."""
    for n in range(10):
        store.emit_event("bench/subscription", "bench_tick", str(n))
    head = store.list_events(newest_first=True, limit=1)[0].seq
    recent, key = head - 10, "bench/subscription"

    def read(**filters: Any) -> list[Any]:
        return store.list_events(limit=500, **filters)

    calls: list[tuple[str, Callable[[], Any]]] = [
        ("10 new events after a recent seq", lambda: read(after_seq=recent)),
        ("first 500 after an old seq (1000)", lambda: read(after_seq=1000)),
        ("key, 10 new after a recent seq", lambda: read(after_seq=recent, key=key)),
        ("key, 10 new after an old seq (1000)", lambda: read(after_seq=1000, key=key)),
        ("type, 10 new after seq 0", lambda: read(type="bench_tick")),
        ("key nothing writes, after seq 0", lambda: read(key="dataset/none")),
        ("key and type, a rule's read from 0", lambda: read(key="dataset/3", type="data_ready")),
        ("poll at the head (nothing new)", lambda: read(after_seq=head)),
    ]
    return [timed("events", name, call, repeat, LIST_GOAL) for name, call in calls]

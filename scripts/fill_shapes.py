"""The shapes of the rows ``fill_rows.py`` generates: statuses, names, plans, job specs and
trigger rows as aiflow writes them (``aiflow.plan.model.LogicalPlan``,
``translators.physical.JobSpec``, ``aiflow.store.orm.SqlTrigger``)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MODELS = 20
SENSORS = 1000  # user event keys sensor/0 .. sensor/999


@dataclass(frozen=True)
class Sizes:
    executions: int
    jobs: int
    events: int
    triggers: int = 1000

    def check(self) -> None:
        if self.executions < 1 or self.jobs < self.executions or self.events < 0:
            raise SystemExit("need executions >= 1, jobs >= executions and events >= 0")
        if self.triggers < 0:
            raise SystemExit("triggers must be >= 0")

    @property
    def workflows(self) -> int:
        return max(1, self.executions // 100)

    def scaled(self, factor: float) -> Sizes:
        """The history (executions, jobs, events) times ``factor``; the triggers stay: their
        count is what the scheduler's pass depends on, and they are cheap."""
        executions = max(1, round(self.executions * factor))
        jobs = max(executions, round(self.jobs * factor))
        return Sizes(executions, jobs, round(self.events * factor), self.triggers)

    def key(self) -> str:
        return f"e{self.executions}-j{self.jobs}-v{self.events}-t{self.triggers}"


def trigger_row(k: int, name: str, workflow: int, kind: str, created: datetime) -> dict[str, Any]:
    """Trigger ``k``'s row without its position (``next_fire_at``, ``event_cursor``) or, for
    event rules, what they select."""
    return {
        "id": k + 1,
        "name": name,
        "workflow_id": workflow + 1,
        "workflow_version_id": None,
        "kind": "periodic" if kind == "periodic" else "event",
        "cron": "0 * * * *" if kind == "periodic" and k % 2 else None,
        "interval_seconds": 3600.0 if kind == "periodic" and not k % 2 else None,
        "event_type": None,
        "event_key": None,
        "event_value": None,
        "mode": "batch",
        "engine": None,
        "deployer": None,
        "max_active": 1 if k % 4 == 0 else None,
        "enabled": True,
        "next_fire_at": None,
        "event_cursor": None,
        "last_fired_at": None,
        "created_at": created,
        "updated_at": created,
        "job": None,
        "action": "start",
        "origin": "user",
    }


def example_rows(created: datetime) -> Iterator[dict[str, Any]]:
    for e in range(50):
        yield {
            "id": e + 1,
            "name": f"example-{e:03d}",
            "columns": {"id": "int64", "x": "float64", "label": "int64"},
            "format": "parquet",
            "batch_uri": f"/data/example-{e:03d}/batch",
            "stream_uri": f"/data/example-{e:03d}/stream" if e % 3 == 0 else None,
            "created_at": created,
            "updated_at": created,
        }


def offset_rows(now: datetime) -> Iterator[dict[str, Any]]:
    """A stream job's ledger of consumed files (``stream_offset``)."""
    for n in range(1000):
        yield {
            "id": n + 1,
            "consumer": f"read_clicks~{workflow_name(n % 10)}",
            "file": f"/data/stream/part-{n:06d}.parquet",
            "consumed_at": now,
        }


def rule_job(name: str, workflow: str) -> dict[str, Any]:
    """The ``JobCreate`` (as JSON) a workflow's rule runs."""
    return {
        "name": name,
        "engine": "local",
        "spec": job_spec(workflow, 0),
        "depends_on": [],
        "max_retries": 0,
        "retry_delay": 0.0,
        "timeout": None,
    }


def run_status(rng: random.Random, from_end: int) -> str:
    if from_end <= 30:  # the newest runs are still going
        return "queued" if from_end <= 5 else ("stopping" if from_end <= 7 else "running")
    draw = rng.random()
    return "succeeded" if draw < 0.85 else ("failed" if draw < 0.95 else "killed")


def job_statuses(run_id: int, n: int, status: str) -> list[str]:
    if status == "succeeded":
        return ["succeeded"] * n
    if status == "queued":
        return ["queued"] * n
    at = run_id % n  # the job where it failed, was killed, or is running
    if status == "failed":
        return ["succeeded"] * at + ["failed"] + ["upstream_failed"] * (n - at - 1)
    if status == "killed":
        return ["succeeded"] * at + ["killed"] * (n - at)
    return ["succeeded"] * at + ["running"] + ["queued"] * (n - at - 1)


def workflow_name(w: int) -> str:
    return f"wf-{w:05d}"


def model_name(m: int) -> str:
    return f"model-{m:02d}"


def logical_plan(name: str) -> dict[str, Any]:
    """A logical plan as the DSL records it (``aiflow.plan.model.LogicalPlan``): read, clean,
    train, evaluate, write."""
    example = {"name": "example-000", "columns": {"x": "float64"}, "format": "parquet"}
    comp = {"module": "file:workflow.py", "params": {}}
    fit, score = {**comp, "qualname": "Fit"}, {**comp, "qualname": "Score"}
    nodes: list[dict[str, Any]] = [
        {"id": "read", "kind": "read_example", "example": example},
        {"id": "clean", "kind": "transform", "component": {**comp, "qualname": "Clean"}},
        {"id": "train", "kind": "train", "model": "model-00", "component": fit},
        {"id": "evaluate", "kind": "evaluate", "model": "model-00", "component": score},
        {"id": "write", "kind": "write_example", "example": {**example, "name": "example-001"}},
    ]  # fmt: skip
    edges = [
        {"source": {"node": a, "port": 0}, "target": b, "target_port": port, "kind": kind}
        for a, b, port, kind in (
            ("read", "clean", 0, "data"),
            ("clean", "train", 0, "data"),
            ("train", "evaluate", 0, "model"),
            ("clean", "evaluate", 1, "data"),
            ("evaluate", "write", 0, "data"),
        )
    ]
    return {
        "format_version": 1,
        "workflow": name,
        "engine": "local",
        "nodes": nodes,
        "edges": edges,
    }


def job_spec(workflow: str, k: int) -> dict[str, Any]:
    return {
        "name": f"job_{k}",
        "workflow": workflow,
        "mode": "batch",
        "engine": "local",
        "nodes": [
            {"id": f"n{k}", "kind": "transform", "component": f"{workflow}.Clean", "config": {}}
        ],
        "edges": [],
        "depends_on": [f"job_{k - 1}"] if k else [],
        "retries": 1,
        "source_hash": "0" * 64,
        "snapshot_uri": f"/var/aiflow/snapshots/{workflow}/1.tar.gz",
        "entrypoint": "workflow.py",
    }

"""The rows ``fill_store.py`` writes: a deterministic (seeded) meta store of a given size.

Rows are plain dicts of column values as the ORM's types take them (aware UTC datetimes, enum
values as strings, dicts for JSON), generated table by table in foreign-key order with explicit
ids; the big tables (jobs, their dependencies, events) are streamed, never held in memory.
Only what relates rows is kept: per execution its workflow version, status, trigger, first job
id and job count (a few MB at 100k executions).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fill_shapes import (  # a sibling: callers have scripts/ on sys.path, as fill_store.py
    MODELS,
    SENSORS,
    Sizes,
    example_rows,
    job_spec,
    job_statuses,
    logical_plan,
    model_name,
    offset_rows,
    rule_job,
    run_status,
    trigger_row,
    workflow_name,
)

SPAN = timedelta(days=180)  # the history the executions are spread over, ending an hour ago
RUN_EVERY = 20  # an execution in this many trains a model version
__all__ = ["Fill", "Sizes"]


@dataclass
class _Run:
    id: int
    workflow: int  # workflow index (0-based)
    version_id: int
    status: str
    trigger: int | None  # trigger index
    first_job: int
    jobs: int
    created: datetime
    model_version: int | None = None  # model version id it produced


class Fill:
    """Generates every table of one store; call ``tables()`` once, in order."""

    def __init__(self, sizes: Sizes, *, seed: int = 1, now: datetime | None = None) -> None:
        self.sizes = sizes
        self.rng = random.Random(seed)
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - SPAN - timedelta(hours=1)
        self.versions: list[list[int]] = []  # version ids per workflow
        self.triggers = self._plan_trigger_list()
        self.runs = self._plan_run_list()
        self.models: list[int] = []  # version count per model
        self.last_seq: dict[tuple[str, str | None], int] = {}  # (type, key|None) -> newest seq
        self.head = 0

    def tables(self) -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
        yield "workflow", self._workflows()
        yield "workflow_version", self._workflow_versions()
        yield "example", example_rows(self.start)
        yield "model", self._models()
        yield "execution", self._executions()
        yield "job", self._jobs()
        yield "job_dependency", self._dependencies()
        yield "model_version", self._model_versions()
        yield "model_alias", self._aliases()
        yield "model_history", self._history()
        yield "metric", self._metrics()
        yield "event", self._events()
        yield "workflow_trigger", self._trigger_rows()  # after the events: cursors
        yield "stream_offset", offset_rows(self.now)

    # -- plans -------------------------------------------------------------------------------

    def _plan_trigger_list(self) -> list[dict[str, Any]]:
        count, workflows = self.sizes.triggers, self.sizes.workflows
        plans = []
        for k in range(count):
            kind = "periodic" if k % 10 < 6 else ("workflow" if k % 10 == 9 else "event")
            plans.append(
                {"kind": kind, "workflow": (k * 7) % workflows, "name": f"trigger-{k:05d}"}
            )
        return plans

    def _plan_run_list(self) -> list[_Run]:
        sizes, rng = self.sizes, self.rng
        workflows = sizes.workflows
        for w in range(workflows):
            first = sum(len(v) for v in self.versions) + 1
            self.versions.append(list(range(first, first + 1 + w % 4)))
        periodic = [k for k, t in enumerate(self.triggers) if t["kind"] == "periodic"]
        base, extra = divmod(sizes.jobs, sizes.executions)
        step = SPAN / sizes.executions
        runs, job_id = [], 1
        for i in range(sizes.executions):
            trigger = None
            if periodic and rng.random() < 0.3:
                trigger = rng.choice(periodic)
                workflow = self.triggers[trigger]["workflow"]
            else:
                workflow = int(workflows * rng.random() ** 3)  # a few hot workflows
            # vary sizes around the mean, keeping the total: +d for run 2n, -d for run 2n+1
            swing = min((i // 2) % 5, base - 1)
            if i % 2 == 1:
                swing = -swing
            elif i + 1 == sizes.executions:
                swing = 0
            jobs = base + (1 if i < extra else 0) + swing
            runs.append(
                _Run(
                    id=i + 1,
                    workflow=workflow,
                    version_id=self.versions[workflow][-1 if rng.random() < 0.8 else 0],
                    status=run_status(rng, sizes.executions - i),
                    trigger=trigger,
                    first_job=job_id,
                    jobs=jobs,
                    created=self.start + step * i,
                )
            )
            job_id += jobs
        assert job_id - 1 == sizes.jobs, (job_id, sizes.jobs)
        return runs

    # -- small tables ------------------------------------------------------------------------

    def _workflows(self) -> Iterator[dict[str, Any]]:
        for w in range(self.sizes.workflows):
            yield {"id": w + 1, "name": workflow_name(w), "created_at": self.start}

    def _workflow_versions(self) -> Iterator[dict[str, Any]]:
        for w, ids in enumerate(self.versions):
            for number, id in enumerate(ids, start=1):
                yield {
                    "id": id,
                    "workflow_id": w + 1,
                    "version": number,
                    "plan_hash": f"{w:08x}{number:056x}",
                    "source_hash": f"{number:08x}{w:056x}",
                    "snapshot_uri": f"/var/aiflow/snapshots/{workflow_name(w)}/{number}.tar.gz",
                    "plan": logical_plan(workflow_name(w)),
                    "created_at": self.start + timedelta(days=number),
                }

    def _models(self) -> Iterator[dict[str, Any]]:
        for m in range(MODELS):
            yield {
                "id": m + 1,
                "name": model_name(m),
                "description": None,
                "created_at": self.start,
            }

    # -- runs ---------------------------------------------------------------------------------

    def _executions(self) -> Iterator[dict[str, Any]]:
        for run in self.runs:
            ended = run.status in ("succeeded", "failed", "killed")
            alive = run.status in ("running", "stopping")
            yield {
                "id": run.id,
                "workflow_version_id": run.version_id,
                "workflow_id": run.workflow + 1,
                "mode": "stream" if run.id % 10 == 0 else "batch",
                "engine": "flink" if run.id % 5 == 0 else "local",
                "deployer": "kubernetes" if run.id % 7 == 0 else "local",
                "status": run.status,
                "driver_pid": 4000 + run.id % 30000 if alive else None,
                "driver_host": "scheduler-0" if alive else None,
                "driver_started_at": run.created if alive else None,
                "driver_heartbeat_at": self.now if alive else None,
                "error": "job train failed (exit code 1)" if run.status == "failed" else None,
                "created_at": run.created,
                "started_at": run.created + timedelta(seconds=1)
                if run.status != "queued"
                else None,
                "ended_at": run.created + timedelta(seconds=300) if ended else None,
                "trigger_id": None if run.trigger is None else run.trigger + 1,
                "trigger_event_seq": None,
            }

    def _jobs(self) -> Iterator[dict[str, Any]]:
        for run in self.runs:
            name = workflow_name(run.workflow)
            for k, status in enumerate(job_statuses(run.id, run.jobs, run.status)):
                started = run.created + timedelta(seconds=1 + 20 * k)
                ran = status not in ("queued", "upstream_failed")
                done = ran and status != "running"
                yield {
                    "id": run.first_job + k,
                    "execution_id": run.id,
                    "name": f"job_{k}",
                    "engine": "local",
                    "status": status,
                    "attempt": 1 if ran else 0,
                    "max_retries": 1,
                    "retry_delay": 0.0,
                    "timeout": None,
                    "spec": job_spec(name, k),
                    "handle": {"pid": 10_000 + (run.first_job + k) % 50_000} if ran else None,
                    "log_uri": f"/var/aiflow/logs/{run.id}/job_{k}/1.log" if ran else None,
                    "exit_code": (0 if status == "succeeded" else 1) if done else None,
                    "error": "ValueError: bad row 17" if status == "failed" else None,
                    "result": {"rows": {f"n{k}": 1000 + k}, "outputs": {}} if done else None,
                    "created_at": run.created,
                    "started_at": started if ran else None,
                    "ended_at": started + timedelta(seconds=15) if done else None,
                }

    def _dependencies(self) -> Iterator[dict[str, Any]]:
        for run in self.runs:
            for k in range(1, run.jobs):
                yield {"job_id": run.first_job + k, "depends_on_id": run.first_job + k - 1}

    # -- models -------------------------------------------------------------------------------

    def _model_versions(self) -> Iterator[dict[str, Any]]:
        self.models = [0] * MODELS
        id = 0
        for run in self.runs:
            if run.id % RUN_EVERY or run.status != "succeeded":
                continue
            m = run.workflow % MODELS
            self.models[m] += 1
            id += 1
            run.model_version = id
            yield {
                "id": id,
                "model_id": m + 1,
                "version": self.models[m],
                "artifact_uri": f"/var/aiflow/artifacts/{model_name(m)}/{id}",
                "flavor": "sklearn",
                "stage": ("generated", "validated", "rejected", "retired")[id % 4],
                "execution_id": run.id,
                "job_id": run.first_job + run.jobs - 1,
                "node_id": "train",
                "created_at": run.created + timedelta(seconds=200),
                "parent_version": self.models[m] - 1 or None,
                "checksum": f"{id:064x}",
                "lineage": {"workflow": workflow_name(run.workflow), "execution": run.id},
                "tags": {"team": "ranking"} if id % 3 == 0 else None,
            }

    def _version_ids(self) -> list[tuple[int, int, int]]:
        """(model index, version number, version id) of every version, in id order."""
        seen = [0] * MODELS
        out = []
        for run in self.runs:
            if run.model_version is not None:
                m = run.workflow % MODELS
                seen[m] += 1
                out.append((m, seen[m], run.model_version))
        return out

    def _aliases(self) -> Iterator[dict[str, Any]]:
        newest: dict[int, list[int]] = {}
        for m, _number, id in self._version_ids():
            newest.setdefault(m, []).append(id)
        id = 0
        for m, ids in sorted(newest.items()):
            for alias, version_id in (
                ("deployed", ids[-1]),
                ("champion", ids[max(0, len(ids) - 3)]),
            ):
                id += 1
                yield {
                    "id": id,
                    "model_id": m + 1,
                    "alias": alias,
                    "model_version_id": version_id,
                    "updated_at": self.now,
                }

    def _history(self) -> Iterator[dict[str, Any]]:
        for n, (m, number, _id) in enumerate(self._version_ids()):
            yield {
                "id": n + 1,
                "model_id": m + 1,
                "version": number,
                "kind": "stage",
                "field": "stage",
                "from_value": None,
                "to_value": "generated",
                "actor": "aiflow",
                "reason": None,
                "metrics": {},
                "created_at": self.now,
            }

    def _metrics(self) -> Iterator[dict[str, Any]]:
        id = 0
        for _m, _number, version_id in self._version_ids():
            for name, value in (("accuracy", 0.9), ("loss", 0.2), ("auc", 0.85)):
                id += 1
                yield {
                    "id": id,
                    "name": name,
                    "value": value + (version_id % 100) / 1000,
                    "step": None,
                    "model_version_id": version_id,
                    "execution_id": None,
                    "job_id": None,
                    "created_at": self.now,
                }

    # -- the event log -------------------------------------------------------------------------

    def _events(self) -> Iterator[dict[str, Any]]:
        total, runs, rng = self.sizes.events, self.runs, self.rng
        base, extra = divmod(total, len(runs))
        seq = 0
        for run in runs:
            budget = base + (1 if run.id <= extra else 0)
            mine: list[tuple[str, str, str]] = []
            if run.trigger is not None:
                name = self.triggers[run.trigger]["name"]
                mine.append((f"trigger/{name}", "TRIGGER_FIRED", f"due: execution {run.id}"))
            for k, status in enumerate(job_statuses(run.id, run.jobs, run.status)):
                if status not in ("queued", "upstream_failed"):
                    mine.append((f"execution/{run.id}", "JOB_RUNNING", f"job_{k}"))
                if status not in ("queued", "running"):
                    mine.append((f"execution/{run.id}", f"JOB_{status.upper()}", f"job_{k}"))
            if run.model_version is not None:
                mine.append((model_name(run.workflow % MODELS), "MODEL_GENERATED", "1"))
            mine = mine[:budget]
            while len(mine) < budget:
                sensor = int(SENSORS * rng.random() ** 2)
                kind = "data_ready" if rng.random() < 0.7 else "reading"
                value = f"part-{(seq + len(mine)) % 100_000:05d}.csv"
                mine.append((f"sensor/{sensor}", kind, value))
            when = run.created
            for key, type, value in mine:
                seq += 1
                self.last_seq[(type, key)] = seq
                self.last_seq[(type, None)] = seq
                yield {"seq": seq, "key": key, "type": type, "value": value, "created_at": when}
        self.head = seq

    def _trigger_rows(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for k, plan in enumerate(self.triggers):
            w = plan["workflow"]
            row = trigger_row(k, plan["name"], w, plan["kind"], self.start)
            if plan["kind"] == "periodic":
                # not due for a while: an idle scheduler pass fires nothing
                row["next_fire_at"] = self.now + timedelta(hours=2, seconds=k)
            elif plan["kind"] == "event":
                row["event_type"] = "data_ready" if k % 3 else "reading"
                choice = k % 5
                if choice < 3:  # a sensor: matched now and then
                    row["event_key"] = f"sensor/{k % SENSORS}"
                elif choice == 3:  # a key nothing writes: the cursor stays where it started
                    row["event_key"] = f"dataset/{k}"
                if k % 7 == 0:
                    row["event_value"] = "*.csv"
                started = rng.randint(0, self.head)
                last = self.last_seq.get((row["event_type"], row["event_key"]))
                row["event_cursor"] = max(started, last or 0)
            else:  # a workflow's rule: retrain when a model has a new version
                model = model_name(w % MODELS)
                row.update(
                    origin="workflow",
                    workflow_version_id=self.versions[w][-1],
                    event_type="MODEL_GENERATED",
                    event_key=model,
                    action="restart" if k % 2 else "start",
                    job=rule_job(f"retrain_{k}", workflow_name(w)),
                )
                last = self.last_seq.get(("MODEL_GENERATED", model))
                row["event_cursor"] = max(last or 0, rng.randint(0, self.head))
            yield row

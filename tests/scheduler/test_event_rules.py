"""Event-driven jobs (``af.action_on_*``): the DSL's checks, the plans, the rule triggers a
submission makes and replaces, what their fires record (one execution of the job alone per
event, carrying the event), restart and stop, the documented example and the migration.

Drivers are not started here (``start_driver`` records the ids). Real runs, where each job
receives the event that started it: ``test_event_rules_e2e.py``; exactly once across a
scheduler killed with SIGKILL: ``test_event_rules_chaos.py``; sending events locally and
through a server: ``tests/server/test_events_api.py``.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

import aiflow as af
from aiflow.config import get_settings
from aiflow.deployers import get_deployer
from aiflow.dsl.events import EVENT_ENV
from aiflow.errors import AlreadyExists, InvalidPlan
from aiflow.plan.model import ActionRule
from aiflow.scheduler.launch import job_env
from aiflow.scheduler.service import SchedulerService
from aiflow.scheduler.submit import rerun_execution, run_workflow, submit_workflow
from aiflow.schemas.entities import Event, ExecutionStatus
from aiflow.schemas.inputs import TriggerCreate
from aiflow.server.planner import PlannedWorkflow
from aiflow.store import db, migrations, orm
from aiflow.store.sql_store import MetaStore
from aiflow.translators import translator_for
from aiflow.translators.usercode import load_workflow_file
from tests.scheduler.event_workflows import TRAIN_AND_RULES, write_workflow

REPO = Path(__file__).resolve().parents[2]


def noop() -> None:
    """A node function for plans that are never run."""


@pytest.fixture
def store() -> MetaStore:
    return MetaStore()


def service(store: MetaStore, started: list[int]) -> SchedulerService:
    """A scheduler that records the executions it would start drivers for; submitted
    executions left queued here are not its business (no orphan pick-up, however slow)."""
    record = started.append
    return SchedulerService(
        store, get_deployer, orphan_after=1e9, start_driver=lambda id, **_: record(id)
    )


def head(store: MetaStore) -> int:
    events = store.list_events(after_seq=0, limit=10_000)
    return events[-1].seq if events else 0


def fired(store: MetaStore, started: list[int]) -> list[tuple[str, int | None]]:
    """(job, event seq) of each execution started, in order."""
    runs = [store.get_execution(id) for id in started]
    return [(j.name, e.trigger_event_seq) for e in runs for j in store.list_jobs(e.id)]


# -- the DSL and the plans -----------------------------------------------------------------------


def test_dsl_errors_name_the_node() -> None:
    with af.workflow("errors"):
        a = af.user_operation(noop, name="a")
        with pytest.raises(InvalidPlan, match=r"node 'a': event='born': expected one of gen"):
            af.action_on_model_version(a, "m", "born")
        with pytest.raises(InvalidPlan, match=r"node 'a': status='done': expected one of succ"):
            af.action_on_job_status(a, af.user_operation(noop, name="b"), "done")
        with pytest.raises(InvalidPlan, match=r"node 'a': action='pause': expected one of start"):
            af.action_on_event(a, key="k", action="pause")
        with pytest.raises(InvalidPlan, match=r"node 'a': a node cannot be started by its own"):
            af.action_on_job_status(a, a)
        with pytest.raises(InvalidPlan, match=r"node 'a': key='' must be a non-empty string"):
            af.action_on_event(a, key="")
    with af.workflow("elsewhere"):
        foreign = af.user_operation(noop, name="foreign")
    with af.workflow("errors2"):
        c = af.user_operation(noop, name="c")
        with pytest.raises(InvalidPlan, match=r"node 'c': upstream node 'foreign' is an output"):
            af.action_on_job_status(c, foreign)


def test_plans_record_the_rules_and_detach_their_jobs(tmp_path: Path) -> None:
    wf = write_workflow(tmp_path / "w", TRAIN_AND_RULES, out=tmp_path / "out.txt")
    assert wf.plan.actions == [
        ActionRule(node="validate", on="model_version", event_type="MODEL_GENERATED", key="m"),
        ActionRule(node="notify", on="job_status", event_type="JOB_SUCCEEDED", value="train_m"),
        ActionRule(node="alarm", on="job_status", event_type="JOB_FAILED", value="train_m"),
        ActionRule(node="final", on="event", event_type="user", key="w-done"),
    ]
    physical = translator_for("batch").translate(wf.plan)
    jobs = {job.name: job for job in physical.jobs}
    assert sorted(jobs) == ["alarm", "final", "notify", "train_m", "validate"]
    assert jobs["train_m"].rules == [] and jobs["train_m"].depends_on == []
    assert [r.key for r in jobs["validate"].rules] == ["m"]
    assert [r.value for r in jobs["notify"].rules] == ["train_m"]  # the upstream *job*
    assert all(job.depends_on == [] for job in jobs.values())


def test_a_rule_job_may_not_read_another_jobs_records(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("x\n1.0\n")
    data = af.Example("d", schema={"x": "double"}, batch_uri=str(tmp_path / "d.csv"))
    with af.workflow("reads") as wf:
        rows = af.read_example(data, name="rows")
        model = af.train(rows, af.Trainer(), model=af.Model("m"))
        scores = af.predict(rows, model, af.Predictor(), name="scores")  # a later job
        af.action_on_model_version(scores, model)
    with pytest.raises(InvalidPlan, match=r"node 'scores': its job is event-driven .* 'rows'"):
        translator_for("batch").translate(wf.plan)


# -- what a submission records -------------------------------------------------------------------


def test_submission_records_rule_triggers_and_runs_the_other_jobs(
    tmp_path: Path, store: MetaStore
) -> None:
    wf = write_workflow(tmp_path / "w", TRAIN_AND_RULES, out=tmp_path / "out.txt")
    store.emit_event("before", "user", "")  # rules only see what comes after them
    before = head(store)
    execution, _ = submit_workflow(wf, mode="batch", store=store)
    assert [job.name for job in store.list_jobs(execution.id)] == ["train_m"]
    rules = {t.name: t for t in store.list_triggers(workflow="w")}
    assert sorted(rules) == ["w.alarm.0", "w.final.0", "w.notify.0", "w.validate.0"]
    validate = rules["w.validate.0"]
    assert (validate.origin, validate.job, validate.action, validate.version) == (
        "workflow", "validate", "start", 1,
    )  # fmt: skip
    assert (validate.event_type, validate.event_key, validate.event_value) == (
        "MODEL_GENERATED", "m", None,
    )  # fmt: skip
    notify = rules["w.notify.0"]
    assert (notify.event_type, notify.event_key, notify.event_value) == (
        "JOB_SUCCEEDED", None, "train_m",
    )  # fmt: skip
    assert {(t.mode, t.engine, t.deployer, t.event_cursor) for t in rules.values()} == {
        ("batch", "local", "local", before)
    }


def test_the_server_path_keeps_the_rules() -> None:
    """The server records what its planner subprocess returns: the rules must survive it."""
    with af.workflow("planned") as wf:
        job = af.user_operation(noop, name="job")
        af.action_on_event(job, key="go")
    planned = PlannedWorkflow.model_validate_json(PlannedWorkflow.of(wf).model_dump_json())
    assert planned.to_workflow(Path(__file__)).plan == wf.plan


def test_a_workflow_of_event_driven_jobs_only_succeeds_at_once(
    tmp_path: Path, store: MetaStore
) -> None:
    body = """
    with af.workflow("only") as wf:
        job = af.user_operation(record, params={"tag": "job"}, name="job")
        af.action_on_event(job, key="go")
    """
    wf = write_workflow(tmp_path / "only", body, out=tmp_path / "out.txt")
    execution = run_workflow(wf, store=store)
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert store.list_jobs(execution.id) == []
    assert [t.name for t in store.list_triggers(workflow="only")] == ["only.job.0"]


def test_a_rule_name_taken_by_a_users_trigger_is_refused(tmp_path: Path, store: MetaStore) -> None:
    plain = """
    with af.workflow("w") as wf:
        af.user_operation(record, params={"tag": "job"}, name="job")
    """
    submit_workflow(write_workflow(tmp_path / "w1", plain, out=tmp_path / "o"), mode="batch")
    store.create_trigger(TriggerCreate(name="w.job.0", workflow="w", event_type="X"))
    ruled = """
    with af.workflow("w") as wf:
        job = af.user_operation(record, params={"tag": "job"}, name="job")
        af.action_on_event(job, key="go")
    """
    wf = write_workflow(tmp_path / "w2", ruled, out=tmp_path / "o")
    with pytest.raises(AlreadyExists, match=r"rule trigger of job 'job' is named 'w.job.0'.*user"):
        submit_workflow(wf, mode="batch", store=store)
    assert store.count_executions(workflow="w") == 1  # the refused submission ran nothing
    assert store.get_trigger("w.job.0").origin == "user"


# -- fires ---------------------------------------------------------------------------------------


def test_a_rule_fires_its_job_alone_once_per_event_with_the_event(
    tmp_path: Path, store: MetaStore
) -> None:
    wf = write_workflow(tmp_path / "w", TRAIN_AND_RULES, out=tmp_path / "out.txt")
    submitted, _ = submit_workflow(wf, mode="batch", store=store)
    started: list[int] = []
    scheduler = service(store, started)
    v1 = store.register_model_version("m", "/artifacts/m/1", "pickle")
    store.register_model_version("other", "/artifacts/other/1", "pickle")
    v2 = store.register_model_version("m", "/artifacts/m/2", "pickle")
    generated = store.list_events(key="m", type="MODEL_GENERATED")
    assert scheduler.tick() == started and len(started) == 2
    assert fired(store, started) == [("validate", generated[0].seq), ("validate", generated[1].seq)]
    assert scheduler.tick() == []  # each event once
    rule = store.get_trigger("w.validate.0")
    runs = [store.get_execution(id) for id in started]
    assert {(e.trigger_id, e.workflow_version_id, e.mode) for e in runs} == {
        (rule.id, submitted.workflow_version_id, "batch")
    }
    [job] = store.list_jobs(started[1])
    assert job.spec["name"] == "validate" and job.spec["snapshot_uri"]  # the submitted spec
    env = job_env(store.uri, job, 1, get_settings())
    event = Event.model_validate_json(env[EVENT_ENV])
    assert (event.key, event.type, event.value) == ("m", "MODEL_GENERATED", str(v2.version))
    assert event == store.get_event(generated[1].seq)
    assert v1.version == 1
    [train] = store.list_jobs(submitted.id)
    assert EVENT_ENV not in job_env(store.uri, train, 1, get_settings())


def test_a_job_status_rule_counts_its_own_workflow_only(tmp_path: Path, store: MetaStore) -> None:
    wf = write_workflow(tmp_path / "w", TRAIN_AND_RULES, out=tmp_path / "out.txt")
    ours, _ = submit_workflow(wf, mode="batch", store=store)
    other_body = """
    data = af.Example("data", schema={"x": "double"}, batch_uri=DATA, format="csv")
    with af.workflow("other") as wf:
        af.train(af.read_example(data), Keep(), model=af.Model("m"))
    """
    other = write_workflow(tmp_path / "other", other_body, out=tmp_path / "out.txt")
    theirs, _ = submit_workflow(other, mode="batch", store=store)
    started: list[int] = []
    scheduler = service(store, started)
    store.emit_event(f"execution/{theirs.id}", "JOB_SUCCEEDED", "train_m")  # same job name
    store.emit_event("execution/999999", "JOB_SUCCEEDED", "train_m")  # no such execution
    store.emit_event(f"execution/{ours.id}", "JOB_SUCCEEDED", "evaluate")  # another job
    assert scheduler.tick() == []
    failed = store.emit_event(f"execution/{ours.id}", "JOB_FAILED", "train_m")
    succeeded = store.emit_event(f"execution/{ours.id}", "JOB_SUCCEEDED", "train_m")
    scheduler.tick()
    assert sorted(fired(store, started)) == [("alarm", failed.seq), ("notify", succeeded.seq)]


def test_resubmitting_replaces_the_rules_keeping_unchanged_cursors(
    tmp_path: Path, store: MetaStore
) -> None:
    out = tmp_path / "out.txt"
    v1_body = """
    with af.workflow("w") as wf:
        job = af.user_operation(record, params={"tag": "v1"}, name="job")
        af.action_on_event(job, key="go")
        extra = af.user_operation(record, params={"tag": "extra"}, name="extra")
        af.action_on_event(extra, key="x")
    """
    first, _ = submit_workflow(write_workflow(tmp_path / "w", v1_body, out=out), mode="batch")
    rule = store.get_trigger("w.job.0")
    go = store.emit_event("go", "user", "between the versions")  # not fired yet: no scheduler
    v2_body = """
    with af.workflow("w") as wf:
        job = af.user_operation(record, params={"tag": "v2"}, name="job")
        af.action_on_event(job, key="go")
        new = af.user_operation(record, params={"tag": "new"}, name="new")
        af.action_on_event(new, key="go", action="restart")
    """
    second, _ = submit_workflow(write_workflow(tmp_path / "w", v2_body, out=out), mode="batch")
    assert second.workflow_version_id != first.workflow_version_id
    kept = store.get_trigger("w.job.0")
    assert (kept.id, kept.event_cursor, kept.version) == (rule.id, rule.event_cursor, 2)
    assert sorted(t.name for t in store.list_triggers(workflow="w")) == ["w.job.0", "w.new.0"]
    assert store.get_trigger("w.new.0").event_cursor == go.seq  # new: from its creation on

    started: list[int] = []
    service(store, started).tick()
    assert fired(store, started) == [("job", go.seq)]  # once, with the new version's job
    [job] = store.list_jobs(started[0])
    assert job.spec["nodes"][0]["component"]["params"]["tag"] == "v2"
    assert store.get_execution(started[0]).workflow_version_id == second.workflow_version_id

    v3_body = v2_body.replace('on_event(job, key="go")', 'on_event(job, key="went")')
    assert v3_body != v2_body
    submit_workflow(write_workflow(tmp_path / "w", v3_body, out=out), mode="batch")
    assert store.get_trigger("w.job.0").event_cursor == head(store)  # other events: from now


def test_a_rule_that_moves_to_another_index_keeps_its_place(
    tmp_path: Path, store: MetaStore
) -> None:
    out = tmp_path / "out.txt"
    two_rules = """
    with af.workflow("w") as wf:
        job = af.user_operation(record, params={"tag": "job"}, name="job")
        af.action_on_event(job, key="a")
        af.action_on_event(job, key="b")
    """
    submit_workflow(write_workflow(tmp_path / "w", two_rules, out=out), mode="batch")
    pending = store.emit_event("b", "user", "sent before the rule on 'a' was removed")
    one_rule = """
    with af.workflow("w") as wf:
        job = af.user_operation(record, params={"tag": "job"}, name="job")
        af.action_on_event(job, key="b")
    """
    submit_workflow(write_workflow(tmp_path / "w", one_rule, out=out), mode="batch")
    [rule] = store.list_triggers(workflow="w")
    assert (rule.name, rule.event_key) == ("w.job.0", "b")
    started: list[int] = []
    service(store, started).tick()
    assert fired(store, started) == [("job", pending.seq)]


def test_restart_and_stop_rules_stop_the_jobs_runs_once_per_event(
    tmp_path: Path, store: MetaStore
) -> None:
    body = """
    with af.workflow("w") as wf:
        serve = af.user_operation(record, params={"tag": "serve", "sleep": 600}, name="serve")
        af.action_on_event(serve, key="serve", event_type="start")
        af.action_on_event(serve, key="serve", event_type="restart", action="restart")
        af.action_on_event(serve, key="serve", event_type="stop", action="stop")
    """
    submit_workflow(write_workflow(tmp_path / "w", body, out=tmp_path / "o"), mode="batch")
    started: list[int] = []
    scheduler = service(store, started)

    store.emit_event("serve", "start")
    [first] = scheduler.tick()
    _pretend_running(store, first)
    store.emit_event("serve", "restart")
    [second] = scheduler.tick()
    assert store.get_execution(first).status is ExecutionStatus.STOPPING  # its driver's turn
    assert store.get_execution(second).status is ExecutionStatus.QUEUED
    store.emit_event("serve", "stop")
    assert scheduler.tick() == []
    # no driver ever claimed the second one: the scheduler ended it itself
    assert store.get_execution(second).status is ExecutionStatus.KILLED
    store.emit_event("serve", "stop")
    assert scheduler.tick() == []
    reasons = [e.value for e in store.list_events(type="TRIGGER_FIRED")]
    assert [r.split(": ", 1)[1] for r in reasons] == [
        f"execution {first}",
        f"execution {second}; stopped executions {first}",
        f"stopped executions {second}",
        "nothing to stop",
    ]


def test_a_users_trigger_repeats_the_workflows_run_and_a_rerun_keeps_the_event(
    tmp_path: Path, store: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = write_workflow(tmp_path / "w", TRAIN_AND_RULES, out=tmp_path / "out.txt")
    submit_workflow(wf, mode="batch", store=store)
    started: list[int] = []
    scheduler = service(store, started)
    generated = store.register_model_version("m", "/artifacts/m/1", "pickle")
    [validation] = scheduler.tick()  # the newest execution of the version: one job of it
    store.create_trigger(TriggerCreate(name="nightly", workflow="w", event_type="NIGHT"))
    store.emit_event("clock", "NIGHT")
    [nightly] = scheduler.tick()
    assert [j.name for j in store.list_jobs(nightly)] == ["train_m"]  # the workflow's run

    monkeypatch.setattr("aiflow.scheduler.launch.spawn_driver", lambda *_, **__: 0)
    rerun = rerun_execution(store, validation)
    [job] = store.list_jobs(rerun.id)
    assert rerun.trigger_event_seq == store.get_execution(validation).trigger_event_seq
    event = Event.model_validate_json(job_env(store.uri, job, 1, get_settings())[EVENT_ENV])
    assert (event.key, event.value) == ("m", str(generated.version))


def _pretend_running(store: MetaStore, execution_id: int) -> None:
    """Claim the execution as a live driver would (this process), so a stop waits for it."""
    assert store.transition_execution(
        execution_id, ExecutionStatus.RUNNING, expected={ExecutionStatus.QUEUED}
    )
    store.update_execution(execution_id, driver_pid=os.getpid(), driver_host=socket.gethostname())


def test_the_documented_example_records_its_rules_and_fires(
    tmp_path: Path, store: MetaStore
) -> None:
    """docs/scheduling.md, "Event-driven jobs": its workflow file as written."""
    doc = (REPO / "docs" / "scheduling.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "events_demo" in b)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "numbers.csv").write_text("x\n1\n2\n3\n")
    (tmp_path / "events_demo.py").write_text(code)
    wf = load_workflow_file(tmp_path / "events_demo.py").wf  # data/ is next to the file
    execution, _ = submit_workflow(wf, mode="batch", store=store)
    assert [j.name for j in store.list_jobs(execution.id)] == ["train_sizes"]
    assert sorted(t.name for t in store.list_triggers(workflow="events_demo")) == [
        "events_demo.announce.0",
        "events_demo.report.0",
        "events_demo.validate.0",
    ]
    started: list[int] = []
    store.register_model_version("sizes", "/artifacts/sizes/1", "pickle")
    store.emit_event(f"execution/{execution.id}", "JOB_SUCCEEDED", "train_sizes")
    store.emit_event("reports", "user", "by hand")
    service(store, started).tick()
    assert sorted(job for job, _ in fired(store, started)) == ["announce", "report", "validate"]


def test_migration_0007_keeps_users_triggers_and_drops_rules_on_downgrade(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'meta.db'}"
    migrations.upgrade(uri, "0006")
    now = datetime.now(UTC)
    with db.get_engine(uri).begin() as connection:
        connection.execute(insert(orm.SqlWorkflow), {"id": 1, "name": "w", "created_at": now})
        connection.execute(
            insert(orm.SqlTrigger),
            {"name": "old", "workflow_id": 1, "kind": "event", "event_type": "X", "mode": "batch"}
            | {"enabled": True, "created_at": now, "updated_at": now},
        )
    migrations.upgrade(uri)
    old = MetaStore(uri).get_trigger("old")
    assert (old.origin, old.job, old.action) == ("user", None, "start")
    with db.get_engine(uri).begin() as connection:
        connection.execute(
            insert(orm.SqlTrigger),
            {"name": "w.job.0", "workflow_id": 1, "kind": "event", "event_type": "X"}
            | {"mode": "batch", "enabled": True, "created_at": now, "updated_at": now}
            | {"origin": "workflow", "job": {"name": "job"}, "action": "restart"},
        )
    migrations.downgrade(uri, "0006")
    with db.get_engine(uri).connect() as connection:
        names = connection.scalars(select(orm.SqlTrigger.__table__.c.name)).all()
    assert names == ["old"]  # a rule would read as a user's trigger repeating whole runs
    db.dispose_engine(uri)

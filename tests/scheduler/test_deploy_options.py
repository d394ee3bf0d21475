"""Per-node deployer options through the scheduler: a submission whose nodes set options the
run's deployer refuses fails before anything is recorded or started, naming the node and the
option; accepted options reach each launch of the node's job (``JobLaunch.overrides``); a
trigger that repeats a run on another deployer checks them for that one."""

from __future__ import annotations

import dataclasses
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import aiflow as af
from aiflow.config import get_settings
from aiflow.deployers.base import Handle, JobLaunch
from aiflow.deployers.local import LocalDeployer
from aiflow.dsl.workflow import Workflow
from aiflow.errors import InvalidInput, InvalidPlan
from aiflow.scheduler.driver import run_execution
from aiflow.scheduler.submit import run_workflow, submit_workflow
from aiflow.scheduler.triggers import fire_due
from aiflow.schemas.entities import ExecutionStatus, FireOutcome
from aiflow.schemas.inputs import JobCreate, TriggerCreate
from aiflow.store.sql_store import MetaStore
from aiflow.translators import translator_for
from aiflow.translators.usercode import load_workflow_file

WORKFLOW = """
import aiflow as af

DATA = af.Example("points", schema={{"x": "double"}}, batch_uri={data!r})
with af.workflow("opts") as wf:
    rows = af.read_example(DATA)
    af.write_example(rows, af.Example("out", batch_uri={out!r}), deploy={deploy!r})
"""


def workflow_file(tmp_path: Path, deploy: dict[str, Any]) -> Workflow:
    (tmp_path / "points.csv").write_text("x\n1.0\n")
    path = tmp_path / "wf" / "workflow.py"
    path.parent.mkdir(exist_ok=True)
    data, out = str(tmp_path / "points.csv"), str(tmp_path / "out.csv")
    path.write_text(textwrap.dedent(WORKFLOW.format(data=data, out=out, deploy=deploy)))
    wf: Workflow = load_workflow_file(path).wf
    return wf


def nothing_recorded(store: MetaStore) -> None:
    assert store.list_workflows() == [] and store.list_executions() == []
    snapshots = get_settings().snapshots_dir
    assert not snapshots.exists() or not any(snapshots.iterdir()), "no snapshot stored"


@pytest.mark.parametrize(
    ("deployer", "deploy", "error", "message"),
    [
        (
            "local",
            {"local": {"nice": 5}},
            InvalidInput,
            r"the local deployer takes no per-node overrides \(node 'write_out': "
            r"deploy\['local'\] sets nice\)",
        ),
        (
            "kubernetes",
            {"kubernetes": {"image": "x:1", "imagee": "x:2"}},
            InvalidInput,
            r"^node 'write_out': deploy\['kubernetes'\]: unknown option 'imagee' \(options: ",
        ),
        (
            "local",
            {"kubernets": {"image": "x:1"}},
            InvalidPlan,
            r"^node 'write_out': deploy= names deployer 'kubernets', which is not installed "
            r"\(deployers: .*kubernetes.*local",
        ),
    ],
)
def test_refused_options_fail_the_run_before_anything_starts(
    tmp_path: Path, deployer: str, deploy: dict[str, Any], error: type[Exception], message: str
) -> None:
    store = MetaStore()
    wf = workflow_file(tmp_path, deploy)
    with pytest.raises(error, match=message):
        run_workflow(wf, mode="batch", deployer=deployer, store=store)
    nothing_recorded(store)
    assert not (tmp_path / "out.csv").exists()


def test_options_for_another_deployer_do_not_stop_a_local_run(tmp_path: Path) -> None:
    wf = workflow_file(tmp_path, {"kubernetes": {"image": "registry.example/gpu:1"}})
    final = run_workflow(wf, mode="batch", deployer="local", store=MetaStore())
    assert final.status is ExecutionStatus.SUCCEEDED
    assert (tmp_path / "out.csv").read_text().split() == ["x", "1.0"]


class GreetingDeployer(LocalDeployer):
    """A local deployer that honours one option, ``env``, as a deployer with options does:
    checked at submit, applied at each launch from ``JobLaunch.overrides``."""

    name = "greeting"

    def check_overrides(self, overrides: dict[str, Any], where: str) -> None:
        if set(overrides) - {"env"}:
            raise InvalidInput(f"{where}: only 'env'")

    def submit(self, launch: JobLaunch) -> Handle:
        env = {**launch.env, **launch.overrides.get("env", {})}
        return super().submit(dataclasses.replace(launch, env=env))


def test_a_jobs_options_for_its_deployer_reach_every_launch(tmp_path: Path) -> None:
    with af.workflow("greet") as wf:
        for name in ("a", "b"):
            (tmp_path / f"{name}.csv").write_text("x\n1.0\n")
            data = af.Example(name, schema={"x": "double"}, batch_uri=tmp_path / f"{name}.csv")
            deploy: dict[str, dict[str, Any]] = {
                "greeting": {"env": {"GREETING": "hello"}},
                "kubernetes": {"image": "x:1"},
            }
            af.write_example(
                af.read_example(data),
                af.Example(f"out_{name}", batch_uri=tmp_path / f"o{name}.csv"),
                deploy=deploy if name == "a" else {},
            )
    store = MetaStore()
    version = store.register_workflow_version("greet", {}, "plan", "src", "file:///x", [])
    jobs = [
        JobCreate(name=job.name, engine=job.engine, spec=job.model_dump(mode="json"))
        for job in translator_for("batch").translate(wf.plan).jobs
    ]
    execution = store.create_execution(version.id, "batch", "local", "greeting", jobs)
    show = "import os; print('GREETING', os.environ.get('GREETING'))"
    final = run_execution(
        store,
        execution.id,
        GreetingDeployer(),
        command_for=lambda job: [sys.executable, "-c", show],
    )
    assert final.status is ExecutionStatus.SUCCEEDED
    logs = {
        job.name: Path(str(job.log_uri)).read_text().splitlines()[-1]  # after the banner
        for job in store.list_jobs(final.id)
    }
    assert logs == {"write_out_a": "GREETING hello", "write_out_b": "GREETING None"}


def test_a_trigger_on_another_deployer_checks_the_options_for_it(tmp_path: Path) -> None:
    store = MetaStore()
    wf = workflow_file(tmp_path, {"kubernetes": {"imagee": "x:1"}})  # a typo local ignores
    submit_workflow(wf, mode="batch", deployer="local", store=store)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    spec = TriggerCreate(name="hourly", workflow="opts", interval=3600, deployer="kubernetes")
    store.create_trigger(spec, now=now)
    ((fire, _late),) = fire_due(store, now + timedelta(hours=1))
    assert fire.outcome is FireOutcome.FAILED and fire.execution_id is None
    assert "node 'write_out': deploy['kubernetes']: unknown option 'imagee'" in fire.reason
    assert len(store.list_executions()) == 1, "only the submitted run"

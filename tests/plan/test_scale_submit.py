"""``submit_workflow`` records what it did before it dumped each node once and wrote in bulk:
the stored plan is the plan's dump, its hash the plan's, each job's spec its translated
spec's dump with the snapshot's location, every example is registered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import aiflow as af
from aiflow.scheduler.submit import submit_workflow
from aiflow.store.sql_store import MetaStore


class Scale(af.Transformer):
    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch.assign(x=batch["x"] * self.factor)


def test_what_a_submission_records_is_the_plan_and_its_jobs(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("x\n1\n")
    with af.workflow("recorded") as wf:
        for c in range(300):  # 600 examples: more than one bulk statement's worth
            ref = af.read_example(af.Example(f"in{c}", schema={"x": "double"}, batch_uri=data))
            ref = af.transform(
                ref,
                Scale(c),
                name=f"scale{c}",
                deploy={"kubernetes": {"cpu": 1}} if c == 0 else None,
            )
            af.write_example(ref, af.Example(f"out{c}", batch_uri=tmp_path / f"out{c}.csv"))
    store = MetaStore()
    execution, physical = submit_workflow(wf, mode="batch", store=store)

    version = store.get_workflow_version(execution.workflow_version_id)
    assert version.plan == wf.plan.model_dump(mode="json")
    assert version.plan_hash == wf.plan.hash()
    located = {
        "source_hash": version.source_hash,
        "snapshot_uri": version.snapshot_uri,
        "entrypoint": Path(__file__).name,
    }
    jobs = {job.name: job for job in store.list_jobs(execution.id)}
    assert len(jobs) == len(physical.jobs) == 300
    for spec in physical.jobs:
        expected = spec.model_copy(update=located).model_dump(mode="json")
        assert jobs[spec.name].spec == expected
        assert list(jobs[spec.name].spec) == list(expected), "same keys, same order"
    names = {e.name for e in store.list_examples()}
    assert names == {f"in{c}" for c in range(300)} | {f"out{c}" for c in range(300)}

    again, _ = submit_workflow(wf, mode="batch", store=store)
    assert again.workflow_version_id == version.id, "unchanged plan and code: same version"

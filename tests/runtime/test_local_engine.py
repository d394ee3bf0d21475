"""The local engine through real job processes (``af.run`` in-process, jobs as subprocesses):
custom predictors, user operations, registry models, formats and per-mode properties."""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import aiflow as af
from aiflow.deployers import get_deployer
from aiflow.dsl.workflow import Workflow
from aiflow.scheduler.driver import request_stop, run_execution
from aiflow.scheduler.submit import submit_workflow
from aiflow.store.artifacts import load_model
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file

pytestmark = pytest.mark.slow

COMMON = """
import pandas as pd
import aiflow as af

class Mean(af.Trainer):
    def fit(self, batch, base_model=None):
        return {"mean": float(batch["x"].mean()) + (base_model or {"mean": 0.0})["mean"]}

class Threshold(af.Predictor):
    def __init__(self, margin: float = 0.0):
        self.margin = margin
    def predict(self, batch, model):
        out = batch.copy()
        out["score"] = out["x"] - model["mean"]
        out["prediction"] = (out["score"] > self.margin).astype(int)
        return out

def double(batch, factor):
    return batch.assign(x=batch["x"] * factor)
"""


def write_workflow(directory: Path, body: str) -> Workflow:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "workflow.py"
    path.write_text(COMMON + textwrap.dedent(body))
    return load_workflow_file(path).wf  # type: ignore[no-any-return]


def test_custom_predictor_user_operation_and_formats(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "tag": list("abcd")}).to_json(
        tmp_path / "p" / "in.jsonl", orient="records", lines=True
    )
    wf = write_workflow(
        tmp_path / "p",
        """
        src = af.Example("in", schema={"x": "double", "tag": "string"}, batch_uri="in.jsonl",
                         format="json")
        with af.workflow("custom") as wf:
            raw = af.read_example(src, batch={"limit": 3})
            doubled = af.user_operation(double, raw, params={"factor": 10})
            model = af.train(doubled, Mean(), model=af.Model("mean"))
            preds = af.predict(doubled, model, Threshold(margin=1.0))
            af.write_example(preds, af.Example("out", batch_uri="out/p.parquet", format="parquet"))
        """,
    )
    execution = af.run(wf, progress=False)
    assert execution is not None and execution.status.value == "succeeded"
    out = pd.read_parquet(tmp_path / "p" / "out" / "p.parquet")
    assert out["x"].tolist() == [10.0, 20.0, 30.0]  # limit=3 (batch property), then doubled
    assert out["score"].tolist() == [-10.0, 0.0, 10.0]  # mean of 10, 20, 30
    assert out["prediction"].tolist() == [0, 0, 1]  # margin parameter reached the job
    assert set(out["model_version"]) == {1}


def test_predict_with_a_registry_model_uses_its_serving_version(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 3.0]}).to_csv(tmp_path / "train.csv", index=False)
    trainer = write_workflow(
        tmp_path / "t",
        f"""
        src = af.Example("t", schema={{"x": "double"}}, batch_uri={str(tmp_path / "train.csv")!r})
        with af.workflow("trainer") as wf:
            af.train(af.read_example(src), Mean(), model=af.Model("shared"))
        """,
    )
    for _ in range(3):
        af.run(trainer, progress=False)
    store = MetaStore()
    assert [v.version for v in store.list_model_versions("shared")] == [3, 2, 1]
    store.set_model_alias("shared", "deployed", 2)

    scorer = write_workflow(
        tmp_path / "s",
        f"""
        src = af.Example("s", schema={{"x": "double"}}, batch_uri={str(tmp_path / "train.csv")!r})
        with af.workflow("scorer") as wf:
            preds = af.predict(af.read_example(src), af.Model("shared"), Threshold())
            af.write_example(preds, af.Example("scored", batch_uri="scored.csv"))
        """,
    )
    af.run(scorer, progress=False)
    scored = pd.read_csv(tmp_path / "s" / "scored.csv")
    assert set(scored["model_version"]) == {2}  # the deployed alias, not the newest (3)


def test_stream_side_input_and_online_training_continue_from_base_model(tmp_path: Path) -> None:
    project = tmp_path / "st"
    (project / "in").mkdir(parents=True)
    for i in range(2):
        pd.DataFrame({"x": [float(i + 1)] * 2}).to_csv(project / "in" / f"b{i}.csv", index=False)
    wf = write_workflow(
        project,
        """
        src = af.Example("st", schema={"x": "double"}, stream_uri="in/")
        with af.workflow("online") as wf:
            raw = af.read_example(src, stream={"poll_interval": 0.1})
            af.train(raw, Mean(), model=af.Model("online"))
        """,
    )
    execution, _ = submit_workflow(wf, mode="stream")
    store = MetaStore()
    runner = threading.Thread(
        target=run_execution, args=(store, execution.id, get_deployer("local")), daemon=True
    )
    runner.start()
    deadline = time.monotonic() + 60
    while len(store.list_model_versions("online")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    request_stop(store, execution.id, get_deployer)
    runner.join(30)
    versions = store.list_model_versions("online")
    assert [v.version for v in versions] == [2, 1]

    # micro-batch b0 (mean 1) from scratch, then b1 (mean 2) continued from version 1
    assert load_model(versions[1].artifact_uri) == {"mean": 1.0}
    assert load_model(versions[0].artifact_uri) == {"mean": 3.0}
    assert store.get_execution(execution.id).status.value == "killed"

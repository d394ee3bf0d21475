"""The online-learning loop on the local engine, through real job processes: train ->
validate on a hold-out -> push -> predict, in batch mode and in stream mode, with the model
center recording every decision."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import aiflow as af
from aiflow.deployers import get_deployer
from aiflow.dsl.workflow import Workflow
from aiflow.scheduler.driver import request_stop, run_execution
from aiflow.scheduler.submit import submit_workflow
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file

pytestmark = pytest.mark.slow

# A one-feature threshold classifier: label = x > boundary. Training moves the threshold
# half-way towards the midpoint of the two classes it sees, so a stream whose boundary drifted
# to 2.0 produces versions that beat the base model trained where the boundary was 0.0.
WORKFLOW = """
import aiflow as af

SCHEMA = {"x": "double", "label": "int", "rid": "bigint"}

class Threshold(af.Trainer):
    def fit(self, batch, base_model=None):
        middle = (batch[batch.label == 0].x.max() + batch[batch.label == 1].x.min()) / 2
        if base_model is not None:
            middle = (base_model["t"] + middle) / 2
        return {"t": float(middle)}

class Accuracy(af.Evaluator):
    def evaluate(self, batch, model):
        return {"acc": float(((batch.x > model["t"]).astype(int) == batch.label).mean())}

class Score(af.Predictor):
    def predict(self, batch, model):
        return batch.assign(prediction=(batch.x > model["t"]).astype(int))

clicks = af.Example("clicks", schema=SCHEMA, batch_uri="history.csv", stream_uri="stream/")
holdout = af.Example("holdout", schema=SCHEMA, batch_uri="holdout.csv")

with af.workflow("ctr") as wf:
    raw = af.read_example(clicks, stream={"poll_interval": 0.1})
    model = af.train(raw, Threshold(), model=af.Model("ctr"), stream={"every_records": 40})
    checked = af.validate(model, af.read_example(holdout), Accuracy(), metric="acc")
    af.push(checked)
    preds = af.predict(raw, model, Score())
    af.write_example(preds, af.Example("scores", batch_uri="out/scores.csv", stream_uri="out/s/"))
"""


def _records(boundary: float, n: int, start: int) -> pd.DataFrame:
    xs = [boundary - 3 + 6 * (i + 0.5) / n for i in range(n)]
    return pd.DataFrame(
        {"x": xs, "label": [int(x > boundary) for x in xs], "rid": range(start, start + n)}
    )


def _project(tmp_path: Path) -> tuple[Path, Workflow]:
    project = tmp_path / "ctr"
    (project / "stream").mkdir(parents=True)
    _records(0.0, 40, 0).to_csv(project / "history.csv", index=False)
    _records(2.0, 60, 10_000).to_csv(project / "holdout.csv", index=False)
    (project / "workflow.py").write_text(textwrap.dedent(WORKFLOW))
    return project, load_workflow_file(project / "workflow.py").wf


def test_batch_loop_validates_pushes_and_predicts_with_the_deployed_version(
    tmp_path: Path,
) -> None:
    project, wf = _project(tmp_path)
    first = af.run(wf, progress=False)
    assert first is not None and first.status.value == "succeeded"
    store = MetaStore()
    v1 = store.get_model_version("ctr", 1)
    assert v1.stage == "deployed" and "deployed" in v1.aliases
    assert v1.metrics["acc"] == pytest.approx(2 / 3)  # t=0 on a hold-out with boundary 2
    assert v1.lineage["data"][0]["example"] == "clicks"
    assert v1.lineage["data"][0]["fingerprint"].startswith("sha256:")
    assert v1.checksum
    scores = pd.read_csv(project / "out" / "scores.csv")
    assert set(scores["model_version"]) == {1} and len(scores) == 40

    # the same data again: version 2 is no better than the deployed 1, so it is rejected and
    # predict keeps serving version 1
    second = af.run(wf, progress=False)
    assert second is not None and second.status.value == "succeeded"
    v2 = store.get_model_version("ctr", 2)
    assert v2.stage == "rejected" and "deployed" not in v2.aliases
    assert set(pd.read_csv(project / "out" / "scores.csv")["model_version"]) == {1}
    history = store.model_history("ctr")
    decided = [(c.version, c.field, c.to_value) for c in history if c.version == 2]
    assert ("stage", "rejected") in [(f, t) for _, f, t in decided]
    rejection = next(c for c in history if c.version == 2 and c.to_value == "rejected")
    assert rejection.metrics["deployed.acc"] == pytest.approx(2 / 3)
    assert "of deployed version 1" in (rejection.reason or "")


def test_stream_loop_swaps_versions_without_losing_or_duplicating_records(
    tmp_path: Path,
) -> None:
    project, wf = _project(tmp_path)
    base = af.run(wf, progress=False)  # version 1, deployed, trained where the boundary was 0
    assert base is not None and base.status.value == "succeeded"
    store = MetaStore()
    execution, _ = submit_workflow(wf, mode="stream")
    runner = threading.Thread(
        target=run_execution, args=(store, execution.id, get_deployer("local")), daemon=True
    )
    runner.start()
    try:
        # six files of 20 drifted records: a window closes every 40 records -> 3 versions
        def drop(i: int) -> None:
            staging = project / "stream" / f".part-{i}.csv"
            _records(2.0, 20, 100 * i).to_csv(staging, index=False)
            staging.rename(project / "stream" / f"part-{i}.csv")

        drop(0)
        drop(1)
        _wait(lambda: "deployed" in _aliases(store, 2), "version 2 to be deployed")
        for i in range(2, 6):
            drop(i)
        _wait(
            lambda: (
                len(list((project / "out" / "s").glob("part-*.csv"))) == 6
                and sum(v.stage != "generated" for v in store.list_model_versions("ctr")) == 4
            ),
            "every record predicted and every version decided",
        )
    finally:
        request_stop(store, execution.id, get_deployer)
        runner.join(60)
    versions = {v.version: v for v in store.list_model_versions("ctr")}
    online = [versions[n] for n in sorted(versions) if n > 1]
    assert len(online) == 3, versions
    assert online[0].parent_version == 1  # continued from the deployed base
    # each continued from a version deployed before it (which one depends on timing)
    assert all(v.parent_version in (2, 3) and v.parent_version < v.version for v in online[1:])
    assert all(v.lineage["window"]["records"] == 40 for v in online)
    assert online[0].stage in ("deployed", "retired")  # better than the base: pushed
    out = pd.concat(pd.read_csv(p) for p in (project / "out" / "s").glob("part-*.csv"))
    # every stream record predicted exactly once
    assert sorted(out["rid"]) == sorted(r for i in range(6) for r in range(100 * i, 100 * i + 20))
    served = set(out["model_version"])
    assert served <= {1, *(v.version for v in online)}
    # records that arrived after version 2 was deployed were scored by an online version
    late = out[out["rid"] >= 200]
    assert set(late["model_version"]) - {1} and 1 not in set(late["model_version"])
    assert not any(versions[n].stage == "rejected" for n in served)


def _aliases(store: MetaStore, version: int) -> list[str]:
    try:
        return store.get_model_version("ctr", version).aliases
    except af.AiflowError:
        return []


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
